import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait-for.js';

/** A one-node Slurm cluster of a test's own: slurmctld and slurmd on this machine, a config in a scratch folder. */
export interface TestSlurm {
  /** SLURM_CONF for the client commands. */
  conf: string;
  node: string;
  /** Runs a Slurm client command (sbatch, squeue, scontrol, …) against this cluster. */
  run(cmd: string, args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }): string;
  /** The node's state as sinfo reports it (idle, mixed, allocated, drained, …). */
  nodeState(): string;
  /** Stops the daemons and removes the scratch folder. */
  destroy(): void;
}

const sh = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string) =>
  execFileSync(cmd, args, { env, cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Starts munged (when not running), slurmctld and slurmd as the machine's environment notes describe. */
export async function startSlurm(): Promise<TestSlurm> {
  const node = hostname().split('.')[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'pv-slurm-'));
  for (const d of ['state', 'spool', 'log', 'run']) mkdirSync(join(dir, d));
  if (!existsSync('/etc/munge/munge.key')) {
    writeFileSync('/etc/munge/munge.key', randomBytes(1024), { mode: 0o400 });
  }
  for (const d of ['/run/munge', '/var/log/munge', '/var/lib/munge']) mkdirSync(d, { recursive: true });
  sh('chown', ['-R', 'munge:munge', '/etc/munge', '/run/munge', '/var/log/munge', '/var/lib/munge']);
  if (!existsSync('/run/munge/munged.pid') || !isAlive(Number(readFileSync('/run/munge/munged.pid', 'utf8')))) {
    sh('runuser', ['-u', 'munge', '--', '/usr/sbin/munged']);
  }
  const conf = join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      'ClusterName=pvtest',
      `SlurmctldHost=${node}`,
      'SlurmUser=root',
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
      `SlurmctldPidFile=${join(dir, 'run', 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'run', 'slurmd.pid')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'MpiDefault=none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'AccountingStorageType=accounting_storage/none',
      'ReturnToService=2',
      // a process that outlives SIGTERM by this much drains the node: what the test must never see
      'UnkillableStepTimeout=60',
      'KillWait=30',
      `NodeName=${node} CPUs=2 RealMemory=20000`,
      `PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8`,
      '',
    ].join('\n'),
  );
  const env = { ...process.env, SLURM_CONF: conf };
  sh('slurmctld', ['-f', conf], env);
  sh('slurmd', ['-f', conf], env);
  const slurm: TestSlurm = {
    conf,
    node,
    run: (cmd, args, options = {}) => sh(cmd, args, { ...env, ...options.env }, options.cwd),
    nodeState: () => sh('sinfo', ['-h', '-N', '-o', '%T', '-n', node], env).trim(),
    destroy() {
      for (const pid of ['slurmd.pid', 'slurmctld.pid']) {
        const file = join(dir, 'run', pid);
        if (existsSync(file)) {
          try {
            process.kill(Number(readFileSync(file, 'utf8')), 'SIGTERM');
          } catch {
            // gone already
          }
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(() => slurm.nodeState() === 'idle', { timeoutMs: 60_000, what: 'the Slurm node idle' });
  } catch (err) {
    const logs = ['slurmctld.log', 'slurmd.log'].map((f) => {
      const p = join(dir, 'log', f);
      return existsSync(p) ? readFileSync(p, 'utf8').slice(-2000) : '';
    });
    slurm.destroy();
    throw new Error(`${(err as Error).message}\n${logs.join('\n')}`);
  }
  return slurm;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
