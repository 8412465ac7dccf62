import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../support/cli.js';
import {
  appServices,
  argv,
  COMPOSE_FILE,
  composeCommands,
  dependencies,
  loadCompose,
  loadDockerfile,
  mounts,
  serviceEnv,
} from './deploy-files.js';

const compose = loadCompose();
const services = compose.services;
const apps = appServices(compose);
const byRole = (role: string) => apps.find((a) => a.name === role)!;
/** Compose variables as on a machine where none is set (the file's defaults apply). */
const NO_VARS = {};

/** `${s}` in seconds, for compose durations such as `45s`, `1m30s`. */
function seconds(duration: string): number {
  let total = 0;
  for (const m of duration.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)) {
    const n = Number(m[1]);
    total += { h: 3600, m: 60, s: 1, ms: 0.001, us: 0.000001 }[m[2] as 'h' | 'm' | 's' | 'ms' | 'us'] * n;
  }
  return total;
}

describe('docker-compose.yml', () => {
  const commands = composeCommands();

  it.runIf(commands.length > 0)('is accepted by docker compose, with each profile', () => {
    for (const cmd of commands) {
      for (const profiles of ['', 'bigquery', 'public', 'bigquery,public']) {
        const env = { ...process.env, COMPOSE_PROFILES: profiles };
        const r = spawnSync(cmd[0]!, [...cmd.slice(1), '-f', COMPOSE_FILE, 'config', '-q'], {
          cwd: ROOT,
          env,
          encoding: 'utf8',
          timeout: 60_000,
        });
        expect(r.status, `${cmd.join(' ')} config -q (profiles "${profiles}"): ${r.stderr}`).toBe(0);
      }
    }
  });

  it.runIf(commands.length > 0)("resolves every app service's environment as these tests do", () => {
    // Cross-checks this file's interpolation against compose itself (with none of the variables set).
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      COMPOSE_PROFILES: 'bigquery,public',
    };
    const r = spawnSync(commands[0]![0]!, [...commands[0]!.slice(1), '-f', COMPOSE_FILE, 'config'], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const resolved = parse(r.stdout) as { services: Record<string, { environment?: Record<string, string> }> };
    for (const { name, service } of apps) {
      expect(resolved.services[name]?.environment, name).toEqual(serviceEnv(service, NO_VARS));
    }
  });

  it('gives every service an image or a build', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(Boolean(s.image) || Boolean(s.build), `${name} has neither image nor build`).toBe(true);
    }
  });

  it('runs api, planner, worker and loader from this repository’s image, with environment and a healthcheck', () => {
    const docker = loadDockerfile();
    expect(docker.healthcheck, 'the image has a HEALTHCHECK').not.toBeNull();
    expect(apps.map((a) => a.name)).toEqual(expect.arrayContaining(['api', 'planner', 'worker', 'loader']));
    for (const { name, role, service } of apps) {
      expect(service.build, `${name} is built from the Dockerfile`).toBeDefined();
      const context = typeof service.build === 'string' ? service.build : service.build?.context;
      expect(context, name).toBe('.');
      expect(Object.keys(serviceEnv(service)).length, `${name} has an environment`).toBeGreaterThan(0);
      // Its own healthcheck, running the image's health check script for its role.
      expect(service.healthcheck?.disable, name).not.toBe(true);
      expect(argv(service.healthcheck?.test), name).toEqual(['CMD', 'node', 'bin/healthcheck.js', role]);
    }
    expect(existsSync(join(ROOT, 'bin/healthcheck.js'))).toBe(true);
    expect(['api', 'planner', 'worker', 'loader'].map((r) => byRole(r).role)).toEqual([
      'api',
      'planner',
      'worker',
      'loader',
    ]);
  });

  it('gives app services a stop grace period longer than PV_SHUTDOWN_GRACE_MS plus the 10 s margin', () => {
    for (const { name, service } of apps) {
      const graceMs = Number(serviceEnv(service).PV_SHUTDOWN_GRACE_MS ?? 30_000);
      expect(seconds(String(service.stop_grace_period ?? '10s')), name).toBeGreaterThan(graceMs / 1000 + 10);
      expect(service.init, `${name}: an init reaps zombies and forwards signals`).toBe(true);
    }
  });

  it('runs Redis with AOF, noeviction and a healthcheck, on a volume', () => {
    const redis = services.redis!;
    expect(redis.image).toMatch(/^redis:7(\.\d+)*-alpine$/);
    const cmd = argv(redis.command).join(' ');
    expect(cmd).toMatch(/--appendonly yes/);
    expect(cmd).toMatch(/--maxmemory-policy noeviction/);
    expect(argv(redis.healthcheck?.test).join(' ')).toMatch(/redis-cli ping/);
    expect(mounts(redis).some((m) => m.target === '/data' && compose.volumes?.[m.source] !== undefined)).toBe(true);
  });

  it('waits for health: depends_on uses service_healthy (service_completed_successfully for one-shot jobs)', () => {
    const oneShot = (n: string) => services[n]?.restart === 'no';
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependencies(s))) {
        expect(services[dep], `${name} depends on unknown ${dep}`).toBeDefined();
        if (oneShot(dep)) expect(condition, `${name} → ${dep}`).toBe('service_completed_successfully');
        else {
          expect(services[dep]!.healthcheck?.test, `${dep} has a healthcheck`).toBeDefined();
          expect(condition, `${name} → ${dep}`).toBe('service_healthy');
        }
        // A service never depends on one that only runs under a profile it does not share.
        const depProfiles = services[dep]!.profiles ?? [];
        if (depProfiles.length > 0) expect(s.profiles ?? [], `${name} → ${dep}`).toEqual(depProfiles);
      }
    }
    for (const { name } of apps) expect(dependencies(services[name]!).redis, name).toBe('service_healthy');
    const trigger = dependencies(services.trigger!);
    for (const role of ['api', 'planner', 'worker', 'loader']) expect(trigger[role], role).toBe('service_healthy');
    expect(trigger['minio-init']).toBe('service_completed_successfully');
  });

  it('lets workers scale (`--scale worker=4`): no container_name, no published ports', () => {
    expect(services.worker!.container_name).toBeUndefined();
    expect(services.worker!.ports ?? []).toEqual([]);
    for (const [name, s] of Object.entries(services)) expect(s.container_name, name).toBeUndefined();
  });

  it('publishes ports on 127.0.0.1 only', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const p of s.ports ?? []) expect(String(p), name).toMatch(/^127\.0\.0\.1:/);
    }
  });

  it('puts the DuckDB file on a volume of the loader and shares one staging volume between workers and loader', () => {
    const env = serviceEnv(services.loader!);
    const sinkDir = env.PV_SINK!.replace(/^duckdb:\/\//, '').replace(/\/[^/]+$/, '');
    const staging = env.PV_STAGING!.replace(/^file:\/\//, '');
    const volumeAt = (name: string, path: string) =>
      mounts(services[name]!).find((m) => path === m.target || path.startsWith(`${m.target}/`))?.source;
    expect(compose.volumes?.[volumeAt('loader', sinkDir) ?? '']).not.toBeUndefined();
    const stagingVolume = volumeAt('loader', staging);
    expect(stagingVolume).toBeDefined();
    expect(volumeAt('worker', serviceEnv(services.worker!).PV_STAGING!.replace(/^file:\/\//, ''))).toBe(stagingVolume);
    expect(compose.volumes?.[stagingVolume!]).not.toBeUndefined();
  });

  it('mirrors ./samples/pvdaq into the bucket PV_SOURCE reads, and the trigger posts the sample backfill', () => {
    const source = /^s3:\/\/([^/]+)\/(.+)$/.exec(serviceEnv(services.planner!).PV_SOURCE!)!;
    const [bucket, prefix] = [source[1]!, source[2]!];
    const init = services['minio-init']!;
    const script = argv(init.command).join('\n');
    expect(script).toContain(`mc mb --ignore-existing pv/${bucket}`);
    expect(script).toContain(`pv/${bucket}/${prefix}`);
    expect(mounts(init).some((m) => m.source === './samples/pvdaq')).toBe(true);
    expect(existsSync(join(ROOT, 'samples/pvdaq'))).toBe(true);
    expect(serviceEnv(services.planner!).S3_ENDPOINT).toBe('http://minio:9000');

    const trigger = services.trigger!;
    expect(trigger.restart).toBe('no');
    const env = serviceEnv(trigger);
    expect(JSON.parse(env.TRIGGER_RUN!)).toEqual({
      systems: 'all',
      from: '2010-01-01',
      to: '2025-12-31',
      format: 'parquet',
    });
    expect(env.TRIGGER_API_URL).toBe('http://api:8080');
    expect(env.PV_API_TOKEN).toBe(serviceEnv(services.api!).PV_API_TOKEN);
  });

  it('marks its credentials as development values and lets the token be set from outside', () => {
    const env = serviceEnv(services.api!);
    expect(env.PV_API_TOKEN).toMatch(/not-a-secret/);
    expect(env.AWS_SECRET_ACCESS_KEY).toMatch(/not-a-secret/);
    expect(env.AWS_SECRET_ACCESS_KEY).toBe(serviceEnv(services.minio!).MINIO_ROOT_PASSWORD);
    expect(env.AWS_ACCESS_KEY_ID).toBe(serviceEnv(services.minio!).MINIO_ROOT_USER);
    const token = 'x'.repeat(32);
    expect(serviceEnv(services.api!, { PV_API_TOKEN: token }).PV_API_TOKEN).toBe(token);
  });

  it('profile bigquery: the emulator, and PV_SINK alone switches the sink to it', () => {
    const bq = services.bigquery!;
    expect(bq.profiles).toEqual(['bigquery']);
    expect(bq.image).toMatch(/^ghcr\.io\/goccy\/bigquery-emulator:\d+\.\d+\.\d+$/);
    const port = /--port=(\d+)/.exec(argv(bq.command).join(' '))?.[1];
    const sink = 'bigquery://pv-local/pvdaq';
    for (const role of ['api', 'planner', 'worker', 'loader']) {
      const env = serviceEnv(services[role]!, { PV_SINK: sink });
      expect(env.PV_SINK, role).toBe(sink);
      expect(env.BIGQUERY_API_ENDPOINT, role).toBe(`http://bigquery:${port}`);
    }
    const project = /--project=([\w-]+)/.exec(argv(bq.command).join(' '))?.[1];
    const dataset = /--dataset=([\w-]+)/.exec(argv(bq.command).join(' '))?.[1];
    expect(sink).toBe(`bigquery://${project}/${dataset}`);
  });

  it('profile public: the real bucket, anonymously, beside the sample deployment', () => {
    const pub = Object.entries(services).filter(([, s]) => s.profiles?.includes('public'));
    expect(pub.length).toBeGreaterThan(0);
    const sample = serviceEnv(services.loader!);
    for (const [name, s] of pub) {
      const env = serviceEnv(s);
      expect(env.PV_SOURCE, name).toBe('s3://oedi-data-lake/pvdaq');
      expect(env.S3_ENDPOINT, name).toBeUndefined();
      expect(env.AWS_ACCESS_KEY_ID, name).toBeUndefined();
      expect(env.PV_QUEUE_PREFIX, name).toBeDefined();
      expect(env.PV_QUEUE_PREFIX, name).not.toBe(sample.PV_QUEUE_PREFIX ?? '{pv}');
      expect(env.PV_SINK, name).not.toBe(sample.PV_SINK);
      expect(env.PV_STAGING, name).not.toBe(sample.PV_STAGING);
    }
  });
});
