/**
 * `npm run bench:export`: `pv-pipeline export` of the benchmark warehouse at
 * 15 minutes, every feature on, vs one hand-written DuckDB
 * `COPY (PIVOT (… time_bucket …)) TO … (PARTITION_BY ss_id)` doing only the
 * resample and the pivot, each a whole process, side by side.
 *
 *   npm run bench:export -- [--repeat N] [--no-write]
 *
 * - The warehouse is bench/out/pipeline.duckdb as `npm run bench` leaves it
 *   (32 systems × 31 days × 15 channels at 1 min, about 20 M readings); when
 *   absent, the mirror is generated and loaded here. One copy is made, and
 *   `pv-pipeline report` writes its pv_quality_daily into it (not measured), so
 *   that `--drop-flagged` has flags to apply.
 * - Phase "export": `node bin/pv-pipeline.js export --sink duckdb://COPY --out DIR
 *   --interval 15m --split both --valid 0.1 --test 0.2 --embargo 1d
 *   --drop-flagged`: the bucket pass, the pivot per system, the grid, SPA solar
 *   position per bucket, time features, capacity normalisation, the splits, zstd
 *   Parquet, systems/sensors files, hashes, manifest and card.
 * - Phase "reference": a Node process with DuckDB on the same copy,
 *   `memory_limit` 1GB, default threads, running the COPY above (mean per
 *   sensor, zstd Parquet, one directory per system).
 * - The two alternate, export first, `--repeat` times (default 5); medians of
 *   wall seconds, CPU seconds (user + system, all threads) and peak RSS
 *   (VmHWM). The load average is printed before each pair.
 * - Writes its section of bench/RESULTS.md (not with --no-write).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_DIR } from './generate-mirror.js';
import { writeResultsSection } from './results-section.js';
import {
  ensureWarehouse,
  measureChild,
  type ProcessCost,
  parseArgs,
  ROOT,
  ratioRows,
  WAREHOUSE,
} from './warehouse-bench.js';

const REFERENCE_JS = `
import { DuckDBInstance } from '@duckdb/node-api';
const db = await DuckDBInstance.create(process.argv[1], { access_mode: 'READ_ONLY', memory_limit: '1GB' });
const c = await db.connect();
await c.run("SET TimeZone = 'UTC'");
await c.run(\`COPY (
  PIVOT (SELECT ss_id, time_bucket(INTERVAL 15 MINUTE, timestamp) AS timestamp, sensor, avg(value) AS v
         FROM pv_readings GROUP BY ALL)
  ON sensor USING first(v) GROUP BY ss_id, timestamp ORDER BY ss_id, timestamp
) TO '\${process.argv[2]}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (ss_id))\`);
c.closeSync(); db.closeSync();
`;

const EXPORT_ARGS = [
  '--interval',
  '15m',
  '--split',
  'both',
  '--valid',
  '0.1',
  '--test',
  '0.2',
  '--embargo',
  '1d',
  '--drop-flagged',
];

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (m: string) => process.stdout.write(`${m}\n`);
  await ensureWarehouse(log);
  const work = mkdtempSync(join(tmpdir(), 'pv-bench-export-'));
  const cli = join(ROOT, 'bin', 'pv-pipeline.js');
  const exported: ProcessCost[] = [];
  const reference: ProcessCost[] = [];
  const loads: number[] = [];
  let rows = 0;
  try {
    const copy = join(work, 'warehouse.duckdb');
    copyFileSync(WAREHOUSE, copy);
    log('writing pv_quality_daily into the copy (pv-pipeline report, not measured) …');
    await measureChild([cli, 'report', '--sink', `duckdb://${copy}`, '--out', join(work, 'report')]);
    for (let i = 0; i < args.repeat; i++) {
      const load = loadavg()[0]!;
      loads.push(load);
      const out = join(work, `export-${i}`);
      const e = await measureChild([cli, 'export', '--sink', `duckdb://${copy}`, '--out', out, ...EXPORT_ARGS]);
      const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as {
        rows: Record<string, number>;
      };
      rows = Object.values(manifest.rows).reduce((a, b) => a + b, 0);
      const ref = await measureChild(['--input-type=module', '-e', REFERENCE_JS, copy, join(work, `reference-${i}`)]);
      exported.push(e);
      reference.push(ref);
      log(
        `#${i + 1} load ${load.toFixed(2)}: export ${e.wall.toFixed(2)} s wall, ${e.cpu.toFixed(2)} s CPU, ${e.peakRssMb.toFixed(0)} MB | ` +
          `reference ${ref.wall.toFixed(2)} s wall, ${ref.cpu.toFixed(2)} s CPU, ${ref.peakRssMb.toFixed(0)} MB`,
      );
      rmSync(out, { recursive: true, force: true });
      rmSync(join(work, `reference-${i}`), { recursive: true, force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const body = `## ML export vs one DuckDB COPY of a PIVOT (\`npm run bench:export\`)

Warehouse: bench/out/pipeline.duckdb (about 20 M readings, 32 systems × 31 days × 15 channels at 1 min), one copy with
the quality report's pv_quality_daily in it. Export: \`pv-pipeline export --sink duckdb://COPY --out DIR ${EXPORT_ARGS.join(' ')}\`
(${rows.toLocaleString('en-US')} rows written; memory_limit 1GB, default threads): every feature on (grid with gaps as rows, counts,
SPA solar position per bucket, time features, capacity normalisation, flagged days dropped, splits with embargo,
systems/sensors files, sha256 of every file, manifest, card). Reference: DuckDB, same memory and threads, only the
resample and pivot: \`COPY (PIVOT (SELECT ss_id, time_bucket(15 min), sensor, avg(value) … GROUP BY ALL) ON sensor …)
TO … (FORMAT parquet, COMPRESSION zstd, PARTITION_BY ss_id)\`. Whole processes, alternating, medians of ${args.repeat};
load average before the pairs: ${loads.map((l) => l.toFixed(2)).join(', ')}.

| | export | reference | ratio |
|---|---|---|---|
${ratioRows(exported, reference).join('\n')}
`;
  log(`\n${body}`);
  if (args.write) writeResultsSection(join(BENCH_DIR, 'RESULTS.md'), 'ml-export', body);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
