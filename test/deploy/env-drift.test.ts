/**
 * No drift between what the services read and what the deployments set.
 *
 * The services read exactly `SERVICE_ENV_VARS` (their zod schema); the AWS SDK reads the
 * credential chain (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), used where an S3 endpoint or a
 * private bucket needs them; the BigQuery sink reads `BIGQUERY_API_ENDPOINT`. `AWS_REGION` is not
 * on the list: the S3 store always signs for its own region (us-west-2), so setting it would be a
 * variable nothing reads.
 *
 * How optional variables are treated: the Kubernetes ConfigMap sets every one of them explicitly
 * (the built-in defaults, empty for "unset") so that operators see them all; compose sets what
 * its deployment needs and leaves the rest to the defaults (the README table lists them).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIN_TOKEN_LENGTH } from '@pv-pipeline/api';
import { loadServiceConfig, SERVICE_ENV_VARS } from '@pv-pipeline/core';
import { describe, expect, it } from 'vitest';
import { readmeWithKnobTables } from '../../scripts/config-tables.js';
import { ROOT } from '../support/cli.js';
import { appServices, loadCompose, loadDockerfile, loadK8sFiles, serviceEnv, serviceEnvNames } from './deploy-files.js';

const AWS_CREDENTIALS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];
const BIGQUERY = ['BIGQUERY_API_ENDPOINT'];
/** Every variable a deployment may set for the app processes. */
const READ = new Set([...SERVICE_ENV_VARS, ...AWS_CREDENTIALS, ...BIGQUERY]);
/** Without these a deployment does not do what it is for (the built-in defaults are for a laptop). */
const REQUIRED = ['REDIS_URL', 'PV_SOURCE', 'PV_SINK', 'PV_STAGING', 'PV_API_TOKEN', 'PORT'];

const compose = loadCompose();
const apps = appServices(compose);
const k8s = loadK8sFiles();
const doc = (file: string) => k8s.find((d) => d.file === file)!.doc;
const configMap = doc('k8s/base/configmap.yaml');
const secretTemplate = doc('k8s/base/secret.template.yaml');
const deployments = k8s.filter((d) => d.file.startsWith('k8s/base/') && d.doc.kind === 'Deployment').map((d) => d.doc);

describe('environment variables: services vs deployments', () => {
  it('SERVICE_ENV_VARS still holds what these tests rely on', () => {
    for (const name of REQUIRED) expect(SERVICE_ENV_VARS).toContain(name);
    expect(SERVICE_ENV_VARS).toContain('S3_ENDPOINT');
    expect(SERVICE_ENV_VARS).toContain('PV_SHUTDOWN_GRACE_MS');
  });

  it('compose: every app service sets only variables that are read, and the required ones', () => {
    for (const { name, role, service } of apps) {
      const names = serviceEnvNames(service);
      for (const v of names) expect(READ.has(v), `${name} sets ${v}, which nothing reads`).toBe(true);
      for (const v of ['REDIS_URL', 'PV_SOURCE', 'PV_SINK', 'PV_STAGING']) expect(names, name).toContain(v);
      if (role === 'api' || role === 'all') {
        expect(names, name).toContain('PV_API_TOKEN');
        expect(names, name).toContain('PORT');
      }
      const env = serviceEnv(service);
      // AWS credentials only next to an S3 endpoint (the public bucket is read anonymously).
      for (const v of AWS_CREDENTIALS) expect(v in env, `${name}: ${v}`).toBe(Boolean(env.S3_ENDPOINT));
    }
  });

  it('compose: every app service’s environment passes the services’ own validation', () => {
    for (const { name, role, service } of apps) {
      const env = serviceEnv(service);
      const config = loadServiceConfig(env);
      expect(config.PV_SINK, name).toBe(env.PV_SINK);
      if (role === 'api' || role === 'all') {
        expect(config.PV_API_TOKEN?.length ?? 0, name).toBeGreaterThanOrEqual(MIN_TOKEN_LENGTH);
      }
    }
  });

  it('Kubernetes: the ConfigMap, the Secret template and the pods set only variables that are read', () => {
    for (const v of Object.keys(configMap.data)) expect(READ.has(v), `ConfigMap: ${v}`).toBe(true);
    for (const v of Object.keys(secretTemplate.stringData)) expect(READ.has(v), `Secret: ${v}`).toBe(true);
    for (const d of deployments) {
      for (const e of d.spec.template.spec.containers[0].env ?? []) {
        expect(READ.has(e.name), `${d.metadata.name}: ${e.name}`).toBe(true);
      }
    }
    for (const d of k8s.filter((x) => x.doc.kind === 'Kustomization')) {
      for (const g of d.doc.secretGenerator ?? []) {
        for (const literal of g.literals ?? [])
          expect(READ.has(literal.split('=')[0]), `${d.file}: ${literal}`).toBe(true);
      }
    }
  });

  it('Kubernetes: every variable the services read is set explicitly (secrets in the Secret, the rest in the ConfigMap)', () => {
    const inConfigMap = new Set(Object.keys(configMap.data));
    const inSecret = new Set(Object.keys(secretTemplate.stringData));
    for (const v of SERVICE_ENV_VARS) {
      expect(inConfigMap.has(v) || inSecret.has(v), `${v} is set in neither`).toBe(true);
    }
    expect(inSecret.has('PV_API_TOKEN')).toBe(true);
    expect(inConfigMap.has('PV_API_TOKEN'), 'the token never goes in the ConfigMap').toBe(false);
    for (const v of AWS_CREDENTIALS) expect(inSecret.has(v), v).toBe(true);
    for (const v of REQUIRED.filter((r) => r !== 'PV_API_TOKEN')) expect(configMap.data[v], v).toBeTruthy();
    // The api gets the token; no other role does.
    for (const d of deployments) {
      const names = (d.spec.template.spec.containers[0].env ?? []).map((e: { name: string }) => e.name);
      expect(names.includes('PV_API_TOKEN'), d.metadata.name).toBe(d.metadata.name === 'pv-api');
    }
  });

  it('Kubernetes: the ConfigMap passes the services’ own validation', () => {
    const config = loadServiceConfig({ ...configMap.data, PV_API_TOKEN: 'x'.repeat(MIN_TOKEN_LENGTH) });
    expect(config.REDIS_URL).toBe(configMap.data.REDIS_URL);
    expect(config.PV_SHUTDOWN_GRACE_MS).toBe(Number(configMap.data.PV_SHUTDOWN_GRACE_MS));
    expect(config.S3_ENDPOINT).toBeUndefined(); // empty means unset
    for (const overlay of ['k8s/overlays/dev/config.yaml', 'k8s/overlays/production/managed-redis.yaml']) {
      expect(() => loadServiceConfig({ ...configMap.data, ...doc(overlay).data }), overlay).not.toThrow();
    }
  });

  it('the image sets only variables that are read (plus NODE_ENV, and the MALLOC_ tunables for glibc)', () => {
    for (const v of Object.keys(loadDockerfile().env)) {
      expect(
        READ.has(v) || v === 'NODE_ENV' || v === 'MALLOC_ARENA_MAX' || v === 'MALLOC_MMAP_THRESHOLD_',
        `Dockerfile ENV ${v}`,
      ).toBe(true);
    }
  });

  it('the README documents every variable the services read', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const v of [...SERVICE_ENV_VARS, ...BIGQUERY]) expect(readme, v).toContain(`\`${v}\``);
  });

  it("the README's tables of variables and flags are the ones core's config table gives (npm run docs:config)", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toBe(readmeWithKnobTables(readme));
  });
});
