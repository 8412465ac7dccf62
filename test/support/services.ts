import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

/** A `pv-pipeline serve <role>` child process. */
export interface ServiceProcess {
  role: string;
  child: ChildProcess;
  /** Where its stdout+stderr go. */
  logFile: string;
  /** Sends a signal and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The node flags of the image's ENTRYPOINT (`node <flags> bin/pv-pipeline.js`). */
function imageNodeFlags(): string[] {
  const m = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const argv = m ? (JSON.parse(m[1]!) as string[]) : [];
  return argv.slice(1).filter((a) => a.startsWith('--'));
}

/** Starts `pv-pipeline serve <role>` exactly as the image would (its node flags too), with `env`, logging to `logDir`. */
export function startService(role: string, env: NodeJS.ProcessEnv, logDir: string, tag = role): ServiceProcess {
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${tag}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [...imageNodeFlags(), join(ROOT, 'bin/pv-pipeline.js'), 'serve', role], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return {
    role,
    child,
    logFile,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
      return new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      });
    },
  };
}
