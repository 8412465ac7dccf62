import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';
import { loadDockerfile } from './deploy-files.js';

const docker = loadDockerfile();
const rootPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  workspaces: string[];
  dependencies: Record<string, string>;
};

/** The workspace folders of package.json ("packages/*" → packages/core, …). */
function workspaceDirs(): string[] {
  return rootPackage.workspaces.flatMap((pattern) => {
    const base = pattern.replace(/\/\*$/, '');
    return readdirSync(join(ROOT, base), { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(join(ROOT, base, e.name, 'package.json')))
      .map((e) => `${base}/${e.name}`);
  });
}

describe('Dockerfile', () => {
  it('is multi-stage on a current LTS Node slim image', () => {
    expect(docker.bases.length).toBeGreaterThanOrEqual(2);
    for (const base of docker.bases) expect(base).toMatch(/^node:(22|24)(\.\d+)*-(\w+-)?slim(@sha256:[0-9a-f]{64})?$/);
  });

  it('builds with every dependency, runs with production dependencies only, from the lockfile, without install scripts', () => {
    const runs = docker.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    const installs = runs.filter((r) => /\bnpm (install|ci)\b/.test(r));
    expect(installs).toHaveLength(2);
    for (const install of installs) {
      expect(install).toMatch(/\bnpm install\b/);
      expect(install).toMatch(/--ignore-scripts/);
    }
    expect(installs.filter((i) => /--omit=dev/.test(i))).toHaveLength(1);
    expect(runs.some((r) => /\btsc -b tsconfig\.build\.json\b/.test(r))).toBe(true);
  });

  it('copies the manifest of every workspace before `npm install` (a new workspace must be added here)', () => {
    const copied = docker.contextCopies
      .filter((c) => c.endsWith('/package.json'))
      .map((c) => c.replace(/\/package\.json$/, ''));
    expect(copied.sort()).toEqual(workspaceDirs().sort());
    for (const f of ['package.json', 'package-lock.json', '.npmrc']) expect(docker.contextCopies).toContain(f);
  });

  it('builds from the sources (src, packages, services) and every COPY source exists; tsx is not shipped', () => {
    for (const dir of ['bin', 'src', 'packages', 'services']) expect(docker.contextCopies).toContain(dir);
    for (const source of docker.contextCopies) expect(existsSync(join(ROOT, source)), source).toBe(true);
    expect(rootPackage.dependencies.tsx, 'tsx is for tests and scripts only').toBeUndefined();
  });

  it('runs as a non-root numeric user, one image for every role', () => {
    expect(docker.user).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
    expect(docker.entrypoint).toEqual([
      'node',
      '--max-semi-space-size=2',
      '--v8-pool-size=2',
      '--heap-growing-percent=20',
      'bin/pv-pipeline.js',
    ]);
    expect(docker.cmd).toEqual(['serve', 'all']);
    expect(docker.healthcheck).toEqual(['node', 'bin/healthcheck.js']);
    expect(docker.env.NODE_ENV).toBe('production');
    // as the CLI's shebang starts node: two malloc arenas, big buffers mapped alone (bench/RESULTS.md, peak RSS)
    expect(docker.env.MALLOC_ARENA_MAX).toBe('2');
    expect(docker.env.MALLOC_MMAP_THRESHOLD_).toBe('262144');
  });
});

describe('.dockerignore', () => {
  const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('is an allow-list: everything out, then only what the Dockerfile copies', () => {
    expect(rules[0]).toBe('*');
    const allowed = rules.filter((r) => r.startsWith('!')).map((r) => r.slice(1).replace(/\/$/, ''));
    const topLevel = [...new Set(docker.contextCopies.map((c) => c.split('/')[0]!))];
    expect(allowed.sort()).toEqual(topLevel.sort());
  });

  it('keeps installed, local and test-only files out of the allowed folders', () => {
    for (const r of ['**/node_modules', '**/test', '**/.env*', '**/*.duckdb*']) expect(rules).toContain(r);
  });
});
