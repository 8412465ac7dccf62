import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT, runCli, SAMPLE_MIRROR } from './cli.js';

/** Folder of the committed hostile-input corpus. */
export const CORPUS_DIR = `${ROOT}test/fixtures/bad`;
/** The corpus manifest, written by `scripts/generate-bad-inputs.ts`. */
export const CORPUS_MANIFEST = `${CORPUS_DIR}/cases.json`;
/** Object size limit of the corpus runs (`--max-object-mb`); the over-the-limit cases exceed it. */
export const CORPUS_MAX_OBJECT_MB = 16;

/** One file a case puts into the mirror. */
export interface CorpusFile {
  /** Key in the file:// mirror. */
  key: string;
  /** Its bytes: a file under `test/fixtures/bad/` … */
  fixture?: string;
  /** … or a good sample object copied as is (path relative to the repository root). */
  copy?: string;
}

/** A fact row that a valid-input case must load. */
export interface CorpusRow {
  /** Local time as recorded, `YYYY-MM-DD HH:MM:SS`. */
  measured_on: string;
  sensor: string;
  value: number;
}

/** Things made while the test runs instead of being committed (too big, or outside the mirror). */
export type RuntimeKind = 'ten-mb-line' | 'over-limit' | 'symlink-outside';

/** One hostile (or awkward but valid) input placed in the mirror and run through `pv-pipeline run`. */
export interface CorpusCase {
  id: string;
  /** What is hostile about it, for RELIABILITY.md. */
  title: string;
  /** The run that meets it: `--format parquet` or `--format csv`. */
  format: 'parquet' | 'csv';
  /** The object whose outcome is asserted. */
  key: string;
  /** Files placed in the mirror: the object itself and any companion (a metrics dictionary). */
  files: CorpusFile[];
  /** Made at run time, not committed. */
  runtime?: RuntimeKind;
  /** Source of a regular expression the failure reason must match; absent for valid input. */
  reason?: string;
  /** Valid input: exactly the rows it must load. */
  rows?: CorpusRow[];
}

/** A key handed to the file:// store directly: no listing can produce it. */
export interface DirectKeyCase {
  id: string;
  title: string;
  key: string;
  reason: string;
}

/** The manifest `test/fixtures/bad/cases.json`. */
export interface CorpusManifest {
  cases: CorpusCase[];
  directKeys: DirectKeyCase[];
}

/** Reads the committed manifest. */
export function loadCorpus(): CorpusManifest {
  return JSON.parse(readFileSync(CORPUS_MANIFEST, 'utf8')) as CorpusManifest;
}

/** A mirror holding the good sample objects plus every case, in a fresh temp dir. */
export interface CorpusMirror {
  work: string;
  mirror: string;
}

/** Builds the mirror: the samples, the committed cases and the ones made at run time. */
export function buildCorpusMirror(corpus: CorpusManifest): CorpusMirror {
  const work = mkdtempSync(join(tmpdir(), 'pv-hostile-'));
  const mirror = join(work, 'pvdaq');
  cpSync(SAMPLE_MIRROR, mirror, { recursive: true });
  const place = (key: string, bytes: Buffer | string) => {
    mkdirSync(dirname(join(mirror, key)), { recursive: true });
    writeFileSync(join(mirror, key), bytes);
  };
  for (const c of corpus.cases) {
    for (const f of c.files) {
      if (f.fixture) place(f.key, readFileSync(join(CORPUS_DIR, f.fixture)));
      else if (f.copy) place(f.key, readFileSync(join(ROOT, f.copy)));
    }
    if (c.runtime === 'ten-mb-line') {
      // one record of 10 MiB: a sensor cell that never ends
      place(c.key, `measured_on,module_temp_1__321,system_id\n2015-06-01 00:00:00,${'9'.repeat(10 << 20)},4\n`);
    } else if (c.runtime === 'over-limit') {
      place(c.key, Buffer.alloc((CORPUS_MAX_OBJECT_MB << 20) + 1, 0x31));
    } else if (c.runtime === 'symlink-outside') {
      // a valid object outside the root, linked into the mirror: reading it would leak a file
      const outside = join(work, 'outside', 'secret.csv');
      mkdirSync(dirname(outside), { recursive: true });
      writeFileSync(outside, 'measured_on,module_temp_1__321,system_id\n2015-06-25 00:00:00,1.5,4\n');
      mkdirSync(dirname(join(mirror, c.key)), { recursive: true });
      symlinkSync(outside, join(mirror, c.key));
    }
  }
  return { work, mirror };
}

/** The `--json` summary fields the corpus looks at. */
export interface CorpusRunSummary {
  state: string;
  counts: { planned: number; loaded: number; skipped: number; failed: number; readings: number };
  failures: Array<{ key: string; reason: string }>;
}

/** Runs `pv-pipeline run` over the whole mirror in one format, into a DuckDB file. */
export async function runCorpus(
  mirror: string,
  format: 'parquet' | 'csv',
  db: string,
): Promise<{ code: number | null; summary: CorpusRunSummary; stderr: string }> {
  const options = `--format ${format} --systems all --from 2010-01-01 --to 2025-12-31 --max-object-mb ${CORPUS_MAX_OBJECT_MB}`;
  const r = await runCli(
    ['run', ...options.split(' '), '--source', `file://${mirror}`, '--sink', `duckdb://${db}`, '--json'],
    {
      timeoutMs: 180_000,
    },
  );
  let summary: CorpusRunSummary;
  try {
    summary = JSON.parse(r.stdout) as CorpusRunSummary;
  } catch {
    throw new Error(`pv-pipeline run printed no JSON summary (exit ${r.code})\n${r.stderr}`);
  }
  return { code: r.code, summary, stderr: r.stderr };
}

/**
 * Per-object fact counts of the good sample objects of one format, by DuckDB SQL
 * over the files themselves (not through the pipeline): present readings (no
 * empty cell, NaN or sentinel), one per (object, instant, metric). A CSV row's
 * instant is its local time, taken a second time (the standard-time pass of a
 * DST fall-back hour) when its zone repeats that wall time and an earlier row
 * of the file was later, by at most an hour (the clock stepped back): DuckDB's
 * ICU says which wall times repeat.
 */
export function groundTruthCountsSql(mirror: string, format: 'parquet' | 'csv'): string {
  const present = `v IS NOT NULL AND NOT isnan(v) AND v NOT IN (-999, -7999, -9999, -99999)`;
  if (format === 'parquet') {
    return `
      SELECT replace(filename, '${mirror}/', '') AS source_key, count(DISTINCT (measured_on, utc_measured_on, metric_id)) AS n
      FROM (SELECT *, value AS v FROM read_parquet('${mirror}/parquet/pvdata/*/*/*/*/*.parquet', filename = true, hive_partitioning = false))
      WHERE ${present} GROUP BY ALL ORDER BY ALL`;
  }
  // a column is a sensor when its _N / __N suffix is a metric id of the system's dictionary
  return `
    WITH lines AS (
      SELECT *, row_number() OVER (PARTITION BY filename) AS line
      FROM read_csv('${mirror}/csv/pvdata/*/*/*/*/*.csv', all_varchar = true, union_by_name = true, filename = true)
    ), zones AS (
      SELECT DISTINCT system_id AS ss, trim(timezone_or_utc_offset) AS zone
      FROM read_csv('${mirror}/csv/systems_20250729.csv', all_varchar = true) WHERE timezone_or_utc_offset LIKE '%/%' OR timezone_or_utc_offset ~ '^[A-Z]{3}[0-9][A-Z]{3}$'
    ), stamped AS (
      SELECT l.*, CAST(l.measured_on AS TIMESTAMP) AS t, z.zone,
        lag(CAST(l.measured_on AS TIMESTAMP)) OVER (PARTITION BY filename ORDER BY line) AS prev
      FROM lines l LEFT JOIN zones z ON z.ss = CAST(regexp_extract(filename, 'system_id=([0-9]+)', 1) AS VARCHAR)
    ), flagged AS (
      SELECT *, coalesce(zone IS NOT NULL
          AND (timezone(zone, timezone(zone, t) + INTERVAL 1 HOUR) = t OR timezone(zone, timezone(zone, t) - INTERVAL 1 HOUR) = t), false) AS repeated
      FROM stamped
    ), segments AS (
      -- a row outside a repeated hour ends the run of rows the step back applies to
      SELECT *, sum(CASE WHEN repeated THEN 0 ELSE 1 END) OVER (PARTITION BY filename ORDER BY line) AS segment,
        repeated AND prev > t AND prev - t <= INTERVAL 1 HOUR AS step_back
      FROM flagged
    ), passes AS (
      SELECT * EXCLUDE (prev, repeated, segment, step_back),
        CASE WHEN bool_or(step_back) OVER (PARTITION BY filename, segment ORDER BY line) THEN 2 ELSE 1 END AS pass
      FROM segments
    ), cells AS (
      UNPIVOT (SELECT * EXCLUDE (line, t, zone) FROM passes)
      ON COLUMNS('_[0-9]+$') INTO NAME col VALUE cell
    ), metrics AS (
      SELECT DISTINCT system_id, metric_id FROM read_parquet('${mirror}/parquet/metrics/*.parquet')
    )
    SELECT replace(filename, '${mirror}/', '') AS source_key, count(DISTINCT (measured_on, pass, col)) AS n
    FROM (SELECT *, try_cast(nullif(trim(cell), '') AS DOUBLE) AS v,
            CAST(regexp_extract(filename, 'system_id=([0-9]+)', 1) AS INTEGER) AS ss,
            CAST(regexp_extract(col, '_([0-9]+)$', 1) AS INTEGER) AS mid FROM cells) c
    JOIN metrics m ON m.system_id = c.ss AND m.metric_id = c.mid
    WHERE ${present} GROUP BY ALL ORDER BY ALL`;
}
