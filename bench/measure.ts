import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const MB = 1024 * 1024;

/** VmHWM / VmRSS of this process from /proc/self/status, bytes (null when unavailable). */
export function procStatus(): { hwm: number | null; rss: number | null } {
  try {
    const text = readFileSync('/proc/self/status', 'utf8');
    const kb = (name: string) => {
      const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
      return m ? Number(m[1]) * 1024 : null;
    };
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return { hwm: null, rss: null };
  }
}

/**
 * Resets VmHWM to the current RSS (Linux ≥ 4.0: write "5" to /proc/self/clear_refs), so that
 * VmHWM read at the end of a phase is that phase's peak. Returns whether it worked.
 */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** What one measured phase cost. */
export interface PhaseMeasure {
  wallSeconds: number;
  /** User + system CPU of the whole process (all threads, DuckDB's included), seconds. */
  cpuSeconds: number;
  /** RSS when the phase started, bytes. */
  rssStart: number;
  /** Highest RSS seen by the 50 ms sampler, bytes. */
  rssPeakSampled: number;
  /** VmHWM at the end of the phase (reset at its start when possible), bytes. */
  vmHwm: number | null;
  /** Whether VmHWM was reset at the start (else it is the process peak so far). */
  vmHwmReset: boolean;
  /** Samples taken. */
  samples: number;
}

/** Runs `fn` while sampling `process.memoryUsage.rss()` every `intervalMs`. */
export async function measurePhase<T>(
  fn: () => Promise<T>,
  intervalMs = 50,
): Promise<{ result: T; measure: PhaseMeasure }> {
  if (typeof global.gc === 'function') global.gc();
  const vmHwmReset = resetPeakRss();
  const rssStart = process.memoryUsage.rss();
  let peak = rssStart;
  let samples = 0;
  const timer = setInterval(() => {
    const r = process.memoryUsage.rss();
    samples++;
    if (r > peak) peak = r;
  }, intervalMs);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    const result = await fn();
    const wallSeconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const last = process.memoryUsage.rss();
    if (last > peak) peak = last;
    return {
      result,
      measure: {
        wallSeconds,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        rssStart,
        rssPeakSampled: peak,
        vmHwm: procStatus().hwm,
        vmHwmReset,
        samples,
      },
    };
  } finally {
    clearInterval(timer);
  }
}

export const mb = (bytes: number | null) => (bytes === null ? 'n/a' : `${(bytes / MB).toFixed(0)} MB`);

/** Clock ticks per second of /proc/PID/stat times (USER_HZ, 100 on Linux). */
const CLK_TCK = 100;

/** User + system CPU seconds of a live process, all of its threads (null when gone or not Linux). */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm)": state is field 3, utime 14, stime 15 (1-based)
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** User + system CPU seconds of this process's waited-for children (cutime + cstime). */
export function childrenCpuSeconds(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[13]) + Number(rest[14])) / CLK_TCK;
}

/** Busy CPU seconds of the whole machine since boot, every core (user, nice, system, irq, softirq, steal from /proc/stat). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / CLK_TCK;
}

/** CPU seconds of this process (every thread) spent while `work` ran. */
export async function cpuSecondsOf(work: () => Promise<unknown>): Promise<number> {
  const u = process.cpuUsage();
  await work();
  const d = process.cpuUsage(u);
  return (d.user + d.system) / 1e6;
}

/** The median of some numbers (the mean of the middle two for an even count). */
export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * The node version and the flags this process runs under (`npm run bench…` starts it as the CLI starts
 * node: 2 MiB semi-spaces, two V8 helper threads, 20 % old-generation growth, two malloc arenas, big buffers
 * mapped alone), for the figures a bench writes.
 */
export function nodeRuntime(): string {
  const flags = process.execArgv.filter((a) =>
    ['--max-semi-space-size', '--v8-pool-size', '--heap-growing-percent'].some((f) => a.startsWith(f)),
  );
  const malloc = ['MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_'].flatMap((v) =>
    process.env[v] ? [`${v}=${process.env[v]}`] : [],
  );
  const how = [...flags, ...malloc].join(' ');
  return `node ${process.version} (${how || "node's default flags"})`;
}

/** The short hash of the checked-out commit, for the figures a bench writes. */
export function benchCommit(): string {
  return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dirname(fileURLToPath(import.meta.url)) })
    .toString()
    .trim();
}
