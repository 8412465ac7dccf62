#!/usr/bin/env node
// Health check of a pv-pipeline container: the image's HEALTHCHECK, compose healthchecks and
// Kubernetes exec probes.
//
//   node bin/healthcheck.js [api|planner|worker|loader|all] [--live]
//
// Plain JavaScript without dependencies, so that a probe costs one short node process
// (no tsx, no ioredis). Reads the same environment as the service (REDIS_URL, PORT, PV_API_HOST).
//
// - The role is the argument, else the role of the `pv-pipeline serve <role>` process in /proc.
// - Liveness (--live): that process exists and is neither a zombie nor stopped; for api and all,
//   GET /healthz answers 200. It never depends on Redis: restarting a container does not bring
//   Redis back, it only piles restarts on top of the outage.
// - Readiness (default): liveness, plus for api and all GET /readyz (the api's own Redis PING),
//   and for the other roles a PING to REDIS_URL from here (AUTH when the URL carries a password,
//   TLS for rediss://).
//
// Exit 0 when healthy, 1 when not, with one line saying why (Docker keeps it in `docker inspect`).
// Credentials in REDIS_URL are never printed. The checks are exported for test/deploy.
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { isIP, connect as tcpConnect } from 'node:net';
import { resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';

const ROLES = ['api', 'planner', 'worker', 'loader', 'all'];
/** Longest wait for one answer (HTTP or Redis), ms. */
const TIMEOUT_MS = 3000;

function exit(ok, message) {
  (ok ? process.stdout : process.stderr).write(`${ok ? 'ok' : 'unhealthy'}: ${message}\n`);
  process.exit(ok ? 0 : 1);
}

/** The `pv-pipeline serve` processes of this container, or null where there is no /proc. */
export function serveProcesses() {
  let pids;
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid);
  } catch {
    return null;
  }
  const found = [];
  for (const pid of pids) {
    let argv;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited meanwhile
    }
    const i = argv.findIndex((a) => a.endsWith('pv-pipeline.js'));
    if (i < 0 || argv[i + 1] !== 'serve') continue;
    let state = '?';
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch {
      continue;
    }
    found.push({ pid: Number(pid), role: argv[i + 2], state });
  }
  return found;
}

/** null when GET path answers 200 on the api of `env` (PORT, PV_API_HOST), else the reason. */
export function httpCheck(path, env = process.env) {
  const bind = env.PV_API_HOST || '0.0.0.0';
  const host = bind === '0.0.0.0' ? '127.0.0.1' : bind === '::' ? '::1' : bind;
  const port = Number(env.PORT || 8080);
  return new Promise((done) => {
    const req = request({ host, port, path, timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      done(res.statusCode === 200 ? null : `GET ${path} answered ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${TIMEOUT_MS} ms`)));
    req.on('error', (err) => done(`GET http://${host}:${port}${path} failed: ${err.message}`));
    req.end();
  });
}

/** A RESP array of bulk strings. */
function resp(args) {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** null when Redis at the URL `text` answers PING with PONG, else the reason. */
export function redisCheck(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return Promise.resolve('REDIS_URL is not a URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    return Promise.resolve(`REDIS_URL: "${url.protocol}" is not redis: or rediss:`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(url.port || 6379);
  const where = `redis ${host}:${port}`;
  const commands = [];
  if (url.password) {
    const password = decodeURIComponent(url.password);
    commands.push(url.username ? ['AUTH', decodeURIComponent(url.username), password] : ['AUTH', password]);
  }
  commands.push(['PING']);
  return new Promise((done) => {
    const tls = url.protocol === 'rediss:';
    const socket = tls
      ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }) })
      : tcpConnect({ host, port });
    let buffer = '';
    const finish = (problem) => {
      socket.destroy();
      done(problem);
    };
    socket.setTimeout(TIMEOUT_MS, () => finish(`${where}: no answer in ${TIMEOUT_MS} ms`));
    socket.on(tls ? 'secureConnect' : 'connect', () => socket.write(commands.map(resp).join('')));
    socket.on('error', (err) => finish(`${where} unreachable: ${err.message}`));
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      const replies = buffer.split('\r\n').slice(0, -1);
      const error = replies.find((r) => r.startsWith('-'));
      if (error) finish(`${where} answered ${error.slice(1)}`);
      else if (replies.length >= commands.length) {
        const last = replies[commands.length - 1];
        finish(last === '+PONG' ? null : `${where} answered ${last} to PING`);
      }
    });
    socket.on('end', () => finish(`${where} closed the connection`));
  });
}

async function main() {
  const args = process.argv.slice(2);
  const live = args.includes('--live');
  let role = args.find((a) => !a.startsWith('-'));
  if (role !== undefined && !ROLES.includes(role)) exit(false, `unknown role "${role}" (${ROLES.join(', ')})`);
  setTimeout(() => exit(false, `no verdict in ${TIMEOUT_MS + 1000} ms`), TIMEOUT_MS + 1000).unref();

  const found = serveProcesses();
  let subject = role ?? 'pv-pipeline';
  if (found !== null) {
    const mine = found.filter((p) => role === undefined || p.role === role);
    if (mine.length === 0) exit(false, `no "pv-pipeline serve${role ? ` ${role}` : ''}" process is running`);
    const running = mine.find((p) => p.state !== 'Z' && p.state !== 'T' && p.state !== 't');
    if (!running) {
      const p = mine[0];
      exit(false, `pv-pipeline serve ${p.role} (pid ${p.pid}) is ${p.state === 'Z' ? 'a zombie' : 'stopped'}`);
    }
    role ??= running.role;
    subject = `serve ${role} (pid ${running.pid})`;
  }

  let problem = null;
  let checked = 'process';
  if (role === 'api' || role === 'all') {
    checked = live ? '/healthz' : '/readyz';
    problem = await httpCheck(checked);
  } else if (!live) {
    checked = 'redis PING';
    problem = await redisCheck(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
  }
  if (problem) exit(false, `${subject}: ${problem}`);
  exit(true, `${subject}: ${checked} ${live ? '(liveness)' : '(readiness)'}`);
}

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  main().catch((err) => exit(false, err instanceof Error ? err.message : String(err)));
}
