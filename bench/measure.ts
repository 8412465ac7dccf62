import { readFileSync, writeFileSync } from 'node:fs';

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
