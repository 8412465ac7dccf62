import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SERVICE_ENV_VARS } from '@pv-pipeline/core';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';
import { hasKubectl, K8S_DIR, type K8sObject, kustomize, loadK8sFiles, validateK8s } from './deploy-files.js';

const ROLES = ['api', 'planner', 'worker', 'loader'] as const;
const KUSTOMIZE_KINDS = new Set(['Kustomization', 'Component']);
const all = loadK8sFiles();
const manifests = all.filter((d) => !KUSTOMIZE_KINDS.has(d.doc.kind));
const base = manifests.filter((d) => d.file.startsWith('k8s/base/') && !d.file.endsWith('.template.yaml'));
const find = (docs: K8sObject[], kind: string, name: string) =>
  docs.find((d) => d.kind === kind && d.metadata.name === name);
const baseDocs = base.map((d) => d.doc);
const configMap = find(baseDocs, 'ConfigMap', 'pv-pipeline-config')!;
const graceMs = Number(configMap.data.PV_SHUTDOWN_GRACE_MS);

/** Does `selector.matchLabels` select a pod with `labels`? */
function selects(selector: { matchLabels?: Record<string, string> }, labels: Record<string, string> = {}): boolean {
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

/** Basic shape of a custom resource kubernetes-models does not know (KEDA). */
function checkCustomResource(doc: K8sObject, where: string): void {
  expect(doc.apiVersion, where).toMatch(/^[a-z0-9.-]+\/v\w+$/);
  expect(doc.metadata?.name, where).toMatch(/^[a-z0-9-]+$/);
  expect(typeof doc.spec, where).toBe('object');
  if (doc.kind === 'ScaledObject') {
    expect(doc.spec.scaleTargetRef?.name, where).toBe('pv-worker');
    expect(doc.spec.triggers?.length, where).toBeGreaterThan(0);
    for (const t of doc.spec.triggers) expect(typeof t.type, where).toBe('string');
  }
}

/** Validates a rendered set of documents; returns how many kubernetes-models knew. */
async function validateAll(docs: K8sObject[], where: string): Promise<number> {
  let known = 0;
  for (const doc of docs) {
    const label = `${where}: ${doc.kind} ${doc.metadata?.name}`;
    if (await validateK8s(doc).catch((err: Error) => expect.fail(`${label}: ${err.message}`))) known++;
    else {
      expect(doc.apiVersion, `${label}: an unknown kind must be a CRD`).toMatch(/^keda\.sh\//);
      checkCustomResource(doc, label);
    }
  }
  return known;
}

/** Assertions that hold for base and for every rendered overlay. */
function checkWorkloads(docs: K8sObject[], where: string): void {
  for (const role of ROLES) {
    const d = find(docs, 'Deployment', `pv-${role}`);
    expect(d, `${where}: Deployment pv-${role}`).toBeDefined();
    const pod = d!.spec.template.spec;
    const label = `${where}: pv-${role}`;
    expect(selects(d!.spec.selector, d!.spec.template.metadata.labels), `${label} selector`).toBe(true);
    expect(pod.terminationGracePeriodSeconds, label).toBeGreaterThan(graceMs / 1000);
    // the services' own hard stop is PV_SHUTDOWN_GRACE_MS + 10 s
    expect(pod.terminationGracePeriodSeconds, label).toBeGreaterThanOrEqual(graceMs / 1000 + 10);
    expect(pod.securityContext.runAsNonRoot, label).toBe(true);
    expect(pod.securityContext.runAsUser, label).toBeGreaterThan(0);
    expect(pod.automountServiceAccountToken, label).toBe(false);
    expect(pod.enableServiceLinks, label).toBe(false);
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0];
    expect(c.args, label).toEqual(['serve', role]);
    expect(c.securityContext.readOnlyRootFilesystem, label).toBe(true);
    expect(c.securityContext.allowPrivilegeEscalation, label).toBe(false);
    expect(c.securityContext.capabilities.drop, label).toEqual(['ALL']);
    expect(
      c.volumeMounts.some((m: { mountPath: string }) => m.mountPath === '/tmp'),
      `${label}: writable /tmp`,
    ).toBe(true);
    for (const kind of ['requests', 'limits']) {
      expect(c.resources?.[kind]?.cpu, `${label} ${kind}.cpu`).toBeDefined();
      expect(c.resources?.[kind]?.memory, `${label} ${kind}.memory`).toBeDefined();
    }
    expect(c.envFrom.map((e: { configMapRef?: { name: string } }) => e.configMapRef?.name)).toContain(
      'pv-pipeline-config',
    );
    if (role === 'api') {
      expect(c.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
      expect(c.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'http' });
      const port = c.ports.find((p: { name: string }) => p.name === 'http').containerPort;
      expect(String(port)).toBe(configMap.data.PORT);
    } else {
      expect(c.livenessProbe.exec.command, label).toEqual(['node', 'bin/healthcheck.js', role, '--live']);
      expect(c.readinessProbe.exec.command, label).toEqual(['node', 'bin/healthcheck.js', role]);
    }
  }
  const loader = find(docs, 'Deployment', 'pv-loader')!;
  expect(loader.spec.replicas, `${where}: one loader`).toBe(1);
  expect(loader.spec.strategy.type, `${where}: loader Recreate`).toBe('Recreate');
  const pdb = find(docs, 'PodDisruptionBudget', 'pv-worker');
  expect(pdb, `${where}: PDB`).toBeDefined();
  for (const role of ROLES) {
    const labels = find(docs, 'Deployment', `pv-${role}`)!.spec.template.metadata.labels;
    expect(selects(pdb!.spec.selector, labels), `${where}: PDB selects ${role}`).toBe(role === 'worker');
  }
  expect(find(docs, 'NetworkPolicy', 'pv-default-deny-ingress'), where).toBeDefined();
}

describe('k8s manifests (validated offline with kubernetes-models)', () => {
  it('every document under k8s/ is valid for its kind (CRDs: basic shape)', async () => {
    expect(manifests.length).toBeGreaterThan(15);
    for (const { file, doc } of manifests) {
      expect(doc.apiVersion, file).toBeTruthy();
      expect(doc.kind, file).toBeTruthy();
    }
    const known = await validateAll(
      manifests.map((m) => m.doc),
      'k8s',
    );
    expect(known).toBeGreaterThan(15);
  });

  it('kustomizations reference files that exist; the KEDA component is in no default kustomization', () => {
    const kustomizations = all.filter((d) => KUSTOMIZE_KINDS.has(d.doc.kind));
    expect(kustomizations.map((k) => k.file).sort()).toEqual([
      'k8s/base/kustomization.yaml',
      'k8s/components/keda-worker-scaler/kustomization.yaml',
      'k8s/overlays/dev/kustomization.yaml',
      'k8s/overlays/production/kustomization.yaml',
    ]);
    for (const { file, doc } of kustomizations) {
      const dir = join(ROOT, dirname(file));
      const refs = [
        ...(doc.resources ?? []),
        ...(doc.components ?? []),
        ...(doc.patches ?? []).filter((p: { path?: string }) => p.path).map((p: { path: string }) => p.path),
      ] as string[];
      for (const ref of refs) expect(existsSync(join(dir, ref)), `${file} → ${ref}`).toBe(true);
      if (!file.includes('components/')) {
        expect(doc.components ?? [], file).toEqual([]);
        expect(JSON.stringify(doc), file).not.toMatch(/keda|secret\.template/);
      }
    }
  });

  it('base: four roles with probes, resources, grace period, non-root; PDB; Redis; storage', () => {
    checkWorkloads(baseDocs, 'base');
    const redis = find(baseDocs, 'StatefulSet', 'pv-redis')!;
    const args = redis.spec.template.spec.containers[0].args.join(' ');
    expect(args).toMatch(/--appendonly yes/);
    expect(args).toMatch(/--maxmemory-policy noeviction/);
    expect(redis.spec.volumeClaimTemplates[0].spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(redis.spec.template.spec.containers[0].readinessProbe.exec.command.join(' ')).toMatch(/redis-cli ping/);
    expect(configMap.data.REDIS_URL).toBe(`redis://${redis.spec.serviceName}:6379`);

    expect(find(baseDocs, 'PersistentVolumeClaim', 'pv-staging')!.spec.accessModes).toEqual(['ReadWriteMany']);
    const loaderPod = find(baseDocs, 'Deployment', 'pv-loader')!.spec.template.spec;
    const claimAt = (pod: typeof loaderPod, path: string) => {
      const mount = pod.containers[0].volumeMounts.find(
        (m: { mountPath: string }) => path === m.mountPath || path.startsWith(`${m.mountPath}/`),
      );
      return pod.volumes.find((v: { name: string }) => v.name === mount?.name)?.persistentVolumeClaim?.claimName;
    };
    const sinkDir = configMap.data.PV_SINK.replace(/^duckdb:\/\//, '').replace(/\/[^/]+$/, '');
    const stagingDir = configMap.data.PV_STAGING.replace(/^file:\/\//, '');
    expect(claimAt(loaderPod, sinkDir)).toBe('pv-duckdb');
    expect(claimAt(loaderPod, stagingDir)).toBe('pv-staging');
    expect(claimAt(find(baseDocs, 'Deployment', 'pv-worker')!.spec.template.spec, stagingDir)).toBe('pv-staging');
  });

  it('base: the api behind a Service and an Ingress; network policies let only the api in from outside', () => {
    const api = find(baseDocs, 'Deployment', 'pv-api')!;
    const apiLabels = api.spec.template.metadata.labels;
    const service = find(baseDocs, 'Service', 'pv-api')!;
    expect(selects({ matchLabels: service.spec.selector }, apiLabels)).toBe(true);
    const ingress = find(baseDocs, 'Ingress', 'pv-api')!;
    const backend = ingress.spec.rules[0].http.paths[0].backend.service;
    expect(backend.name).toBe('pv-api');
    expect(service.spec.ports.map((p: { name: string }) => p.name)).toContain(backend.port.name);

    const policies = baseDocs.filter((d) => d.kind === 'NetworkPolicy');
    const deny = find(policies, 'NetworkPolicy', 'pv-default-deny-ingress')!;
    expect(deny.spec.podSelector).toEqual({});
    expect(deny.spec.policyTypes).toEqual(['Ingress']);
    expect(deny.spec.ingress).toBeUndefined();
    // Which policies admit traffic to each role's pods?
    const admitting = (labels: Record<string, string>) =>
      policies.filter((p) => p.spec.ingress?.length && selects(p.spec.podSelector, labels));
    const apiPolicies = admitting(apiLabels);
    expect(apiPolicies).toHaveLength(1);
    // the api port from anywhere (the ingress controller); the metrics port from inside the cluster only (Prometheus)
    expect(apiPolicies[0]!.spec.ingress).toEqual([
      { ports: [{ protocol: 'TCP', port: Number(configMap.data.PORT) }] },
      { from: [{ namespaceSelector: {} }], ports: [{ protocol: 'TCP', port: Number(configMap.data.PV_METRICS_PORT) }] },
    ]);
    // the Service and the Ingress route the api port only: /metrics is never published
    const apiService = find(baseDocs, 'Service', 'pv-api')!;
    expect(apiService.spec.ports.map((p: { targetPort: string }) => p.targetPort)).toEqual(['http']);
    for (const role of ['planner', 'worker', 'loader']) {
      const labels = find(baseDocs, 'Deployment', `pv-${role}`)!.spec.template.metadata.labels;
      expect(admitting(labels), `${role} accepts no connection`).toEqual([]);
    }
    const redisLabels = find(baseDocs, 'StatefulSet', 'pv-redis')!.spec.template.metadata.labels;
    const redisPolicies = admitting(redisLabels);
    expect(redisPolicies).toHaveLength(1);
    const from = redisPolicies[0]!.spec.ingress[0].from;
    expect(from).toHaveLength(1);
    expect(from[0].namespaceSelector).toBeUndefined();
    const allowed = from[0].podSelector.matchExpressions.find(
      (e: { key: string }) => e.key === 'app.kubernetes.io/component',
    );
    expect(allowed.operator).toBe('In');
    expect([...allowed.values].sort()).toEqual([...ROLES].sort());
  });

  it('the Secret is a template with no value, outside every kustomization', () => {
    const secrets = all.filter((d) => d.doc.kind === 'Secret');
    expect(secrets.map((s) => s.file)).toEqual(['k8s/base/secret.template.yaml']);
    for (const value of Object.values(secrets[0]!.doc.stringData ?? {})) expect(value).toBe('');
    expect(secrets[0]!.doc.data).toBeUndefined();
  });

  it("the KEDA ScaledObject scales pv-worker on the api's queue depth (backlog + active), inside the cluster", () => {
    const scaled = all.find((d) => d.doc.kind === 'ScaledObject')!;
    expect(scaled.file).toMatch(/^k8s\/components\//);
    const api = scaled.doc.spec.triggers.find((t: { type: string }) => t.type === 'metrics-api');
    expect(api.metadata.valueLocation).toBe('workers.demand');
    // the metrics Service of the api, on the ConfigMap's metrics port
    const metrics = find(baseDocs, 'Service', 'pv-api-metrics')!;
    const url = new URL(api.metadata.url);
    expect(url.hostname).toBe(`${metrics.metadata.name}.pv-pipeline.svc`);
    expect(url.port).toBe(configMap.data.PV_METRICS_PORT);
    expect(metrics.spec.ports[0].port).toBe(Number(configMap.data.PV_METRICS_PORT));
    expect(url.pathname).toBe('/queue-depth');
    // no Redis key names (and so no prefix) to keep in step: the api reads them from PV_QUEUE_PREFIX
    expect(JSON.stringify(scaled.doc)).not.toMatch(/transform:wait/);
  });

  it('overlay ConfigMap patches only set variables the services read', () => {
    for (const { file, doc } of manifests.filter((d) => d.doc.kind === 'ConfigMap')) {
      for (const key of Object.keys(doc.data ?? {})) expect(SERVICE_ENV_VARS, `${file}: ${key}`).toContain(key);
    }
  });
});

describe.runIf(hasKubectl())('kubectl kustomize (rendered overlays)', () => {
  let work = '';
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('renders the base and both overlays, and the output validates', async () => {
    for (const dir of ['base', 'overlays/dev', 'overlays/production']) {
      const r = kustomize(join(K8S_DIR, dir));
      expect(r.status, `kubectl kustomize k8s/${dir}: ${r.stderr}`).toBe(0);
      await validateAll(r.docs, dir);
      checkWorkloads(r.docs, dir);
      for (const d of r.docs) expect(d.metadata.namespace ?? d.metadata.name, `${dir}: ${d.kind}`).toBe('pv-pipeline');
    }
  });

  it('dev: one worker, small requests, a generated Secret, staging ReadWriteOnce, in-cluster Redis', () => {
    const { docs } = kustomize(join(K8S_DIR, 'overlays/dev'));
    expect(find(docs, 'Deployment', 'pv-worker')!.spec.replicas).toBe(1);
    const secret = docs.find((d) => d.kind === 'Secret')!;
    expect(Buffer.from(secret.data.PV_API_TOKEN, 'base64').toString().length).toBeGreaterThanOrEqual(16);
    // Every reference to the Secret follows its generated name.
    for (const role of ROLES) {
      const env = find(docs, 'Deployment', `pv-${role}`)!.spec.template.spec.containers[0].env;
      for (const e of env) expect(e.valueFrom.secretKeyRef.name).toBe(secret.metadata.name);
    }
    expect(find(docs, 'PersistentVolumeClaim', 'pv-staging')!.spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(find(docs, 'StatefulSet', 'pv-redis')).toBeDefined();
    expect(find(docs, 'Deployment', 'pv-worker')!.spec.template.spec.containers[0].image).toBe('pv-pipeline:dev');
  });

  it('production: managed Redis (no StatefulSet), an HPA owning the worker count, TLS ingress', () => {
    const { docs } = kustomize(join(K8S_DIR, 'overlays/production'));
    expect(docs.some((d) => d.kind === 'StatefulSet')).toBe(false);
    expect(find(docs, 'Service', 'pv-redis')).toBeUndefined();
    expect(find(docs, 'NetworkPolicy', 'pv-redis-ingress')).toBeUndefined();
    const redisUrl = new URL(find(docs, 'ConfigMap', 'pv-pipeline-config')!.data.REDIS_URL);
    expect(redisUrl.hostname).not.toBe('pv-redis');
    const worker = find(docs, 'Deployment', 'pv-worker')!;
    expect(worker.spec.replicas).toBeUndefined();
    const hpa = find(docs, 'HorizontalPodAutoscaler', 'pv-worker')!;
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'pv-worker' });
    expect(hpa.spec.minReplicas).toBeGreaterThan(1);
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
    expect(find(docs, 'Ingress', 'pv-api')!.spec.tls).toHaveLength(1);
    expect(docs.some((d) => d.kind === 'Secret')).toBe(false);
    expect(docs.some((d) => d.apiVersion.startsWith('keda.sh/'))).toBe(false);
  });

  it('production + the KEDA component: a ScaledObject replaces the HPA', async () => {
    // The component is opt-in: render it the way an operator's overlay would include it.
    work = mkdtempSync(join(tmpdir(), 'pv-k8s-'));
    cpSync(K8S_DIR, join(work, 'k8s'), { recursive: true });
    mkdirSync(join(work, 'with-keda'));
    writeFileSync(
      join(work, 'with-keda/kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        'resources: [../k8s/overlays/production]',
        'components: [../k8s/components/keda-worker-scaler]',
        '',
      ].join('\n'),
    );
    const r = kustomize(join(work, 'with-keda'));
    expect(r.status, r.stderr).toBe(0);
    expect(find(r.docs, 'HorizontalPodAutoscaler', 'pv-worker')).toBeUndefined();
    expect(find(r.docs, 'ScaledObject', 'pv-worker')!.metadata.namespace).toBe('pv-pipeline');
    await validateAll(r.docs, 'production+keda');
  });
});
