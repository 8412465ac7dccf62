/**
 * Readers of the deployment files (Dockerfile, docker-compose.yml, k8s/) for the
 * tests in this folder: parsed as the tools would, with compose's variable
 * interpolation, so that the tests check the values a deployment really gets.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { ROOT } from '../support/cli.js';

// ---- compose -------------------------------------------------------------------------------------

/** One service of docker-compose.yml (the fields these tests look at). */
export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean; interval?: string; timeout?: string };
  depends_on?: string[] | Record<string, { condition?: string }>;
  ports?: Array<string | number | object>;
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
  profiles?: string[];
  container_name?: string;
  restart?: string;
  stop_grace_period?: string;
  [key: string]: unknown;
}

/** docker-compose.yml, YAML merge keys (`<<: *anchor`) applied, variables not yet interpolated. */
export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');

export function loadCompose(): ComposeFile {
  return parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as ComposeFile;
}

/**
 * Compose's interpolation: `${VAR}`, `${VAR:-default}` (default when unset or empty),
 * `${VAR-default}` (when unset), `${VAR:?err}` / `${VAR?err}` (required), `$VAR`, and `$$` for `$`.
 */
export function interpolate(text: string, vars: Record<string, string | undefined> = {}): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, name?: string, colon?: string, op?: string, arg?: string, bare?: string) => {
      if (match === '$$') return '$';
      if (bare !== undefined) return vars[bare] ?? '';
      const value = vars[name!];
      const missing = value === undefined || (colon === ':' && value === '');
      if (op === undefined) return value ?? '';
      if (op === '-') return missing ? interpolate(arg ?? '', vars) : value!;
      if (missing) throw new Error(`compose: required variable ${name} is not set (${arg})`);
      return value!;
    },
  );
}

/** A service's environment as compose passes it to the container (interpolated with `vars`). */
export function serviceEnv(service: ComposeService, vars: Record<string, string | undefined> = {}) {
  const env: Record<string, string> = {};
  const raw = service.environment ?? {};
  const entries: Array<[string, unknown]> = Array.isArray(raw)
    ? raw.map((line) => {
        const i = line.indexOf('=');
        return i < 0 ? [line, undefined] : [line.slice(0, i), line.slice(i + 1)];
      })
    : Object.entries(raw);
  for (const [name, value] of entries) {
    if (value === undefined || value === null) continue;
    env[name] = interpolate(String(value), vars);
  }
  return env;
}

/** Names of the variables a service sets, interpolated or not. */
export function serviceEnvNames(service: ComposeService): string[] {
  const raw = service.environment ?? {};
  return Array.isArray(raw) ? raw.map((line) => line.split('=')[0]!) : Object.keys(raw);
}

/** A list-or-string command as an argv. */
export function argv(value: string[] | string | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value.map(String) : value.split(/\s+/).filter(Boolean);
}

/** The services that run a pipeline role: `command: ["serve", role]` (api, planner, worker, loader, all). */
export function appServices(compose: ComposeFile): Array<{ name: string; role: string; service: ComposeService }> {
  return Object.entries(compose.services)
    .filter(([, s]) => argv(s.command)[0] === 'serve')
    .map(([name, service]) => ({ name, role: argv(service.command)[1]!, service }));
}

/** The dependencies of a service with their conditions (`service_started` for the short form). */
export function dependencies(service: ComposeService): Record<string, string> {
  const d = service.depends_on ?? {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((n) => [n, 'service_started']));
  return Object.fromEntries(Object.entries(d).map(([n, v]) => [n, v?.condition ?? 'service_started']));
}

/** Mounts of a service as `{ source, target }` (short and long syntax). */
export function mounts(service: ComposeService): Array<{ source: string; target: string }> {
  return (service.volumes ?? []).map((v) => {
    if (typeof v === 'string') {
      const [source = '', target = ''] = v.split(':');
      return { source, target };
    }
    return { source: v.source ?? '', target: v.target ?? '' };
  });
}

/** Compose commands available here: docker-compose v1 and/or the `docker compose` plugin. */
export function composeCommands(): string[][] {
  const found: string[][] = [];
  for (const cmd of [['docker-compose'], ['docker', 'compose']]) {
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), 'version'], { stdio: 'ignore', timeout: 20_000 });
    if (r.status === 0) found.push(cmd);
  }
  return found;
}

// ---- Dockerfile ----------------------------------------------------------------------------------

/** One instruction of the Dockerfile, continuation lines joined. */
export interface DockerInstruction {
  op: string;
  args: string;
  stage: number;
}

/** What the tests read from the Dockerfile. */
export interface DockerfileInfo {
  instructions: DockerInstruction[];
  /** `FROM` lines' images, ARGs substituted. */
  bases: string[];
  /** ENV of the last stage. */
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
  /** The HEALTHCHECK's CMD as an argv, or null. */
  healthcheck: string[] | null;
  user: string | null;
  /** Sources of every COPY from the build context (not `--from`), in order. */
  contextCopies: string[];
}

export function loadDockerfile(): DockerfileInfo {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const lines = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const instructions: DockerInstruction[] = [];
  const args: Record<string, string> = {};
  const bases: string[] = [];
  const stages = new Set<string>();
  let stage = -1;
  for (const line of lines) {
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    const rest = m[2]!;
    if (op === 'ARG' && stage < 0) {
      const [k, v = ''] = rest.split('=');
      args[k!.trim()] = v.trim();
    }
    if (op === 'FROM') {
      stage++;
      const [from, , alias] = rest.split(/\s+/);
      const image = from!.replace(/\$\{?([A-Za-z_]+)\}?/g, (_m, k: string) => args[k] ?? '');
      // a stage built on an earlier stage has no base image of its own
      if (!stages.has(image)) bases.push(image);
      if (alias) stages.add(alias);
    }
    instructions.push({ op, args: rest, stage });
  }
  const last = instructions.filter((i) => i.stage === stage);
  const env: Record<string, string> = {};
  for (const i of last.filter((i) => i.op === 'ENV')) {
    for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g))
      env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  const json = (op: string): string[] => {
    const i = last.filter((x) => x.op === op).at(-1);
    return i ? (JSON.parse(i.args) as string[]) : [];
  };
  const hc = last.filter((i) => i.op === 'HEALTHCHECK').at(-1);
  const hcCmd = hc ? /\bCMD\s+(\[.*\])\s*$/.exec(hc.args) : null;
  const user = last.filter((i) => i.op === 'USER').at(-1)?.args ?? null;
  const contextCopies = instructions
    .filter((i) => i.op === 'COPY' && !/--from=/.test(i.args))
    .flatMap((i) => {
      const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      return parts.slice(0, -1);
    });
  return {
    instructions,
    bases,
    env,
    entrypoint: json('ENTRYPOINT'),
    cmd: json('CMD'),
    healthcheck: hcCmd ? (JSON.parse(hcCmd[1]!) as string[]) : null,
    user,
    contextCopies,
  };
}

// ---- Kubernetes ----------------------------------------------------------------------------------

/** A YAML document of k8s/, with the file it came from. */
export interface K8sDoc {
  file: string;
  doc: K8sObject;
}

/** Any field of a manifest: the tests check them one by one, as YAML gives them. */
// biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field in the tests
type Field = any;

/** The loose shape of a Kubernetes object (the tests narrow what they read). */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: Field };
  [k: string]: Field;
};

export const K8S_DIR = join(ROOT, 'k8s');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

/** Every YAML document under k8s/ (kustomization files included), paths relative to the repo. */
export function loadK8sFiles(dir = K8S_DIR): K8sDoc[] {
  return yamlFiles(dir).flatMap((file) =>
    parseDocuments(readFileSync(file, 'utf8'), file).map((doc) => ({ file: relative(ROOT, file), doc })),
  );
}

/** The non-empty documents of a multi-document YAML text; a YAML error throws naming `where`. */
export function parseDocuments(text: string, where: string): K8sObject[] {
  return parseAllDocuments(text).flatMap((d) => {
    if (d.errors.length > 0) throw new Error(`${where}: ${d.errors[0]!.message}`);
    const v = d.toJS() as K8sObject | null;
    return v === null ? [] : [v];
  });
}

/** `kubectl` on PATH? */
export function hasKubectl(): boolean {
  return spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

/** `kubectl kustomize dir`: exit code, stderr and the rendered documents. */
export function kustomize(dir: string): { status: number | null; stderr: string; docs: K8sObject[] } {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  return {
    status: r.status,
    stderr: r.stderr,
    docs: r.status === 0 ? parseDocuments(r.stdout, `kubectl kustomize ${dir}`) : [],
  };
}

/**
 * Validates an object against its kubernetes-models class (the JSON schema of
 * its apiVersion and kind). Returns false for kinds the package does not know
 * (CRDs such as KEDA's ScaledObject); throws on a schema violation.
 */
export async function validateK8s(doc: K8sObject): Promise<boolean> {
  let mod: Record<string, unknown>;
  try {
    // e.g. kubernetes-models/apps/v1/Deployment, kubernetes-models/v1/ConfigMap
    const specifier = `kubernetes-models/${doc.apiVersion}/${doc.kind}`;
    mod = (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
  } catch {
    return false;
  }
  const Model = mod[doc.kind] as (new (data: unknown) => { validate(): void }) | undefined;
  if (typeof Model !== 'function') return false;
  new Model(doc).validate();
  return true;
}
