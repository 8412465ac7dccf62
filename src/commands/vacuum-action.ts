import { BadInputError } from '@pv-pipeline/core';
import { ObjectParquetSink, openSink } from '@pv-pipeline/sinks';
import { commandFailed } from './command-failure.js';

/** Options of `pv-pipeline vacuum`, as commander parses them. */
export interface VacuumCliOptions {
  sink: string;
  s3Endpoint?: string;
  olderThan: string;
  dryRun?: boolean;
  json?: boolean;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30m`, `24h`, `7d`, `90s`, or `0` → milliseconds. */
export function parseAge(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd])?\s*$/.exec(text);
  if (!m || (m[2] === undefined && Number(m[1]) !== 0)) {
    throw new BadInputError('--older-than', `"${text}" is not an age such as 30m, 24h or 7d (or 0)`);
  }
  return Number(m[1]) * (m[2] ? UNIT_MS[m[2] as keyof typeof UNIT_MS] : 0);
}

/** The action of `pv-pipeline vacuum`: 0 when done, 1 on bad input or failure (one line on stderr). */
export async function vacuumCommand(opts: VacuumCliOptions): Promise<number> {
  try {
    const olderThanMs = parseAge(opts.olderThan);
    const sink = openSink(opts.sink, opts.s3Endpoint ? { s3Endpoint: opts.s3Endpoint } : {});
    if (!(sink instanceof ObjectParquetSink)) {
      throw new BadInputError(
        '--sink',
        `${sink.url}: vacuum is for parquet+s3:// datasets (a parquet:// dataset replaces its files in place, DuckDB and BigQuery tables keep no files)`,
      );
    }
    await sink.init({ create: false });
    try {
      const r = await sink.vacuum({ olderThanMs, dryRun: opts.dryRun === true });
      if (opts.json) process.stdout.write(`${JSON.stringify({ ...r, dryRun: opts.dryRun === true }, null, 2)}\n`);
      else {
        const verb = opts.dryRun ? 'would delete' : 'deleted';
        process.stdout.write(
          `${sink.url}: ${r.files} readings file(s), ${r.referenced} referenced; ${verb} ${r.deleted.length} (${(r.deletedBytes / 1e6).toFixed(1)} MB); kept ${r.keptRecent} younger than ${opts.olderThan}\n`,
        );
      }
      return 0;
    } finally {
      await sink.close();
    }
  } catch (err) {
    return commandFailed('vacuum', err);
  }
}
