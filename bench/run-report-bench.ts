/**
 * `npm run bench:report`: `pv-pipeline report` over the benchmark warehouse
 * vs one DuckDB `GROUP BY ss_id, sensor, day` pass over its `pv_readings`,
 * each a whole process, side by side.
 *
 *   npm run bench:report -- [--repeat N] [--no-write]
 *
 * - The warehouse is bench/out/pipeline.duckdb as `npm run bench` leaves it
 *   (the mirror loaded by the pipeline: 32 systems × 31 days × 15 channels at
 *   1 min, about 20 M readings); when absent, the mirror is generated and loaded here.
 * - Phase "report": `node bin/pv-pipeline.js report --sink duckdb://COPY --out DIR`
 *   on a fresh copy of the warehouse each time (the report writes pv_quality_daily
 *   and pv_sensors.interval_s into it), its default memory limit (1GB) and threads.
 * - Phase "reference": a Node process with DuckDB opening the same copy
 *   read-only, `memory_limit` 1GB, default threads, running
 *   `CREATE TEMP TABLE … AS SELECT ss_id, sensor, CAST(timestamp AS DATE) AS day,
 *   count(*), sum(value), min(value), max(value) FROM pv_readings GROUP BY ALL`.
 * - The two alternate, report first, `--repeat` times (default 5). Figures are
 *   medians: wall seconds, CPU seconds (user + system of the child, all threads)
 *   and peak RSS (VmHWM of the child, sampled every 20 ms). The machine's load
 *   average is printed before each pair: quote figures from a quiet machine.
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
await c.run(\`CREATE TEMP TABLE per_day AS SELECT ss_id, sensor, CAST(timestamp AS DATE) AS day,
  count(*) AS n, sum(value) AS s, min(value) AS lo, max(value) AS hi FROM pv_readings GROUP BY ALL\`);
c.closeSync(); db.closeSync();
`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (m: string) => process.stdout.write(`${m}\n`);
  await ensureWarehouse(log);
  const work = mkdtempSync(join(tmpdir(), 'pv-bench-report-'));
  const report: ProcessCost[] = [];
  const reference: ProcessCost[] = [];
  const loads: number[] = [];
  let readings = 0;
  try {
    for (let i = 0; i < args.repeat; i++) {
      const load = loadavg()[0]!;
      loads.push(load);
      const copy = join(work, `warehouse-${i}.duckdb`);
      copyFileSync(WAREHOUSE, copy);
      const out = join(work, `report-${i}`);
      const r = await measureChild([
        join(ROOT, 'bin', 'pv-pipeline.js'),
        'report',
        '--sink',
        `duckdb://${copy}`,
        '--out',
        out,
      ]);
      const q = JSON.parse(readFileSync(join(out, 'quality.json'), 'utf8')) as {
        systems: Array<{ sensors: Array<{ readings: number }> }>;
      };
      readings = q.systems.reduce((n, s) => n + s.sensors.reduce((m, x) => m + x.readings, 0), 0);
      const ref = await measureChild(['--input-type=module', '-e', REFERENCE_JS, copy]);
      report.push(r);
      reference.push(ref);
      log(
        `#${i + 1} load ${load.toFixed(2)}: report ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s CPU, ${r.peakRssMb.toFixed(0)} MB | ` +
          `reference ${ref.wall.toFixed(2)} s wall, ${ref.cpu.toFixed(2)} s CPU, ${ref.peakRssMb.toFixed(0)} MB`,
      );
      rmSync(copy, { force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const rows = ratioRows(report, reference);
  const body = `## Quality report vs one DuckDB GROUP BY pass (\`npm run bench:report\`)

Warehouse: bench/out/pipeline.duckdb (${readings.toLocaleString('en-US')} readings reported), a fresh copy per run.
Report: \`pv-pipeline report --sink duckdb://COPY --out DIR\` (memory_limit 1GB, default threads): the bucket pass, every
check, the pages, quality.json, pv_quality_daily and pv_sensors.interval_s. Reference: DuckDB, same memory and threads,
\`SELECT ss_id, sensor, CAST(timestamp AS DATE), count, sum, min, max … GROUP BY ALL\` into a temporary table.
Whole processes, alternating, medians of ${args.repeat}; load average before the pairs: ${loads.map((l) => l.toFixed(2)).join(', ')}.

| | report | reference | ratio |
|---|---|---|---|
${rows.join('\n')}
`;
  log(`\n${body}`);
  if (args.write) writeResultsSection(join(BENCH_DIR, 'RESULTS.md'), 'quality-report', body);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
