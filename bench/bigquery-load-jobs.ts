/**
 * `npm run bench:bigquery`: backfills the bench mirror into BigQuery load mode through the
 * fake of the BigQuery API (test/support/bigquery-fake), with the default batch sizes, and
 * reports rows per load job and load jobs per 1,000 objects; then extrapolates to a
 * full-archive backfill (~157 systems × ~15 years × 365 daily objects ≈ 860k objects).
 *
 *   npm run bench:bigquery -- [--systems N] [--small] [--batch-rows N] [--no-write]
 *
 * `--systems` (default 8) takes the first N systems of the full mirror (`bench/data/mirror`,
 * generated on first use); `--small` uses the 2 × 2-day mirror instead (a smoke run, not
 * written); `--batch-rows` is the inline `--batch-rows` (default: a BigQuery sink's in load mode,
 * 10,000,000, as PV_LOAD_BATCH_ROWS); objects per batch stay at the default 500 (PV_LOAD_BATCH_OBJECTS).
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLogger, DEFAULTS } from '@pv-pipeline/core';
import { openObjectStore } from '@pv-pipeline/pvdaq';
import { BigQuerySink, commitBatchRows } from '@pv-pipeline/sinks';
import { runInline, validateRunRequest } from '@pv-pipeline/stages';
import { startBigQueryFake } from '../test/support/bigquery-fake/index.js';
import {
  BENCH_DIR,
  ensureMirror,
  FULL_PARAMS,
  type MirrorParams,
  mirrorDir,
  pad2,
  SMALL_PARAMS,
  systemsOf,
} from './generate-mirror.js';
import { writeResultsSection } from './results-section.js';

/** Objects per batch: the loader's default (PV_LOAD_BATCH_OBJECTS) and the inline run's. */
const DEFAULT_BATCH_OBJECTS = DEFAULTS.batchObjects;
/** The archive: ~157 systems × ~15 years × 365 daily objects. */
const ARCHIVE_OBJECTS = 157 * 15 * 365;
/** BigQuery's documented limits that matter here. */
const LOAD_JOBS_PER_TABLE_PER_DAY = 1_500;
const LOAD_JOBS_PER_PROJECT_PER_DAY = 100_000;
/** Seconds one commit script is assumed to take in BigQuery (for the time estimate only). */
const ASSUMED_SCRIPT_SECONDS = 10;

interface Args {
  systems: number;
  small: boolean;
  /** Unset: the sink's default (commitBatchRows). */
  batchRows?: number;
  write: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { systems: 8, small: false, write: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const num = () => {
      const v = argv[++i];
      if (!v || !/^[1-9]\d*$/.test(v)) throw new Error(`${arg} needs a positive whole number`);
      return Number(v);
    };
    if (arg === '--systems') a.systems = num();
    else if (arg === '--batch-rows') a.batchRows = num();
    else if (arg === '--small') a.small = true;
    else if (arg === '--no-write') a.write = false;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (a.small) a.write = false;
  return a;
}

const out = (s = '') => process.stdout.write(`${s}\n`);
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const params: MirrorParams = args.small ? SMALL_PARAMS : FULL_PARAMS;
  const dir = mirrorDir(args.small);
  const gen = await ensureMirror(dir, params, out);
  if (gen.generated) out(`generated ${dir} in ${gen.seconds.toFixed(1)} s`);
  const systems = systemsOf(params).slice(0, args.systems);

  const fake = await startBigQueryFake();
  const sink = new BigQuerySink({ projectId: 'bench', datasetId: 'pvdaq', apiEndpoint: fake.url, pollIntervalMs: 50 });
  const batchRows = commitBatchRows(sink, args.batchRows);
  const store = openObjectStore(pathToFileURL(dir).href);
  const started = performance.now();
  try {
    await sink.init();
    const summary = await runInline({
      request: validateRunRequest({
        systems: systems.map((s) => s.id),
        from: `${params.year}-${pad2(params.month)}-01`,
        to: `${params.year}-${pad2(params.month)}-${pad2(params.days)}`,
        format: 'parquet',
      }),
      store,
      sink,
      logger: createLogger({ service: 'bench' }, { level: 'warn' }),
      batchRows,
    });
    const seconds = (performance.now() - started) / 1000;
    if (summary.counts.failed > 0)
      throw new Error(`${summary.counts.failed} objects failed: ${JSON.stringify(summary.failures[0])}`);
    const loads = fake.loadJobs();
    const rowsPerJob = loads.map((j) =>
      Number((j.resource.statistics.load as { outputRows?: string }).outputRows ?? 0),
    );
    const scripts = [...fake.jobs.keys()].filter((k) => k.startsWith('pv_commit_')).length;
    const stagingTables = new Set(loads.map((j) => j.info.destination)).size;
    const inTable = (await fake.sql('SELECT count(*) AS n FROM pvdaq.pv_readings'))[0]!.n as number;
    if (inTable !== summary.counts.readings)
      throw new Error(`fake holds ${inTable} rows, the run says ${summary.counts.readings}`);

    const objects = summary.counts.loaded;
    const rows = summary.counts.readings;
    const perJob = rows / loads.length;
    const jobsPer1000 = (1000 * loads.length) / objects;
    const rowsPerObject = rows / objects;
    // a batch closes once its rows reach the cap (the object that crosses it included) or at 500 objects
    const perBatch = (r: number) => Math.min(DEFAULT_BATCH_OBJECTS, Math.ceil(batchRows / r));
    const objectsPerBatch = perBatch(rowsPerObject);
    const archiveJobs = Math.ceil(ARCHIVE_OBJECTS / objectsPerBatch);
    const quarterHourRows = 96 * params.channels;
    const quarterHourJobs = Math.ceil(ARCHIVE_OBJECTS / perBatch(quarterHourRows));
    const neededPerJob = Math.ceil(ARCHIVE_OBJECTS / LOAD_JOBS_PER_TABLE_PER_DAY);

    const body = `## BigQuery load jobs per backfill (\`npm run bench:bigquery\`)

Latest run, written by \`bench/bigquery-load-jobs.ts\` (this section is replaced on every full run).

- Date: ${new Date().toISOString()} · machine: nproc ${cpus().length}, node ${process.version}
- Data: the bench mirror (\`bench/generate-mirror.ts\`), first ${systems.length} of ${FULL_PARAMS.systems} systems ×
  ${params.days} days: **${fmt(objects)} daily objects, ${fmt(rows)} readings** (${fmt(rowsPerObject)} per object:
  ${params.channels} channels at 1-minute cadence)
- Path: \`runInline\` → \`BigQuerySink\` load mode → the BigQuery fake (DuckDB behind the REST API), with the
  ${args.batchRows === undefined ? "default batch sizes (a BigQuery sink's in load mode)" : 'batch sizes'}: ${fmt(batchRows)} rows (\`PV_LOAD_BATCH_ROWS\`, inline \`--batch-rows\`) and
  ${DEFAULT_BATCH_OBJECTS} objects (\`PV_LOAD_BATCH_OBJECTS\`, inline default) per commit
- Wall time ${seconds.toFixed(1)} s (the transform dominates; the fake is not a model of BigQuery's speed)

| figure | value |
|---|---:|
| load jobs | ${fmt(loads.length)} |
| rows per load job (mean / min / max) | ${fmt(perJob)} / ${fmt(Math.min(...rowsPerJob))} / ${fmt(Math.max(...rowsPerJob))} |
| objects per load job (mean) | ${fmt(objects / loads.length, 1)} |
| **load jobs per 1,000 objects** | **${fmt(jobsPer1000, 1)}** |
| commit scripts (one transaction each) | ${fmt(scripts)} |
| distinct destination tables of the load jobs | ${fmt(stagingTables)} (one staging table per batch) |
| load jobs into \`pv_readings\` itself | 0 |

### A full-archive backfill and the 1,500 load jobs per table per day

- Every load job writes its own staging table \`_pv_stage_<batch id>\` (WRITE_TRUNCATE, dropped by the
  commit script); \`pv_readings\` receives its rows through the script's DML INSERT, never through a
  load job. So each table sees **one** load job (at most 3 when a job fails transiently and is retried
  under a fresh id) — under the per-table limit of ${fmt(LOAD_JOBS_PER_TABLE_PER_DAY)} by construction,
  whatever the batch sizes.
- At this mirror's shape (${fmt(rowsPerObject)} rows per object) the defaults make batches of
  ~${fmt(objectsPerBatch)} objects (${objectsPerBatch === DEFAULT_BATCH_OBJECTS ? `the ${DEFAULT_BATCH_OBJECTS}-object cap binds` : `the ${fmt(batchRows)}-row cap binds`}; measured above: ${fmt(objects / loads.length, 1)}
  per job including the last, partial batch), i.e. ~${fmt(1000 / objectsPerBatch, 1)} load jobs per 1,000 objects:
  **~${fmt(archiveJobs)} load jobs for ≈ ${fmt(ARCHIVE_OBJECTS)} objects**, spread over as many
  staging tables, and as many commit scripts (DML) on \`pv_readings\`, run one at a time by the single
  loader. The binding quota is then the project's ${fmt(LOAD_JOBS_PER_PROJECT_PER_DAY)} load jobs per day:
  ${archiveJobs <= LOAD_JOBS_PER_PROJECT_PER_DAY ? 'the whole backfill fits in one day of it' : `about ${Math.ceil(archiveJobs / LOAD_JOBS_PER_PROJECT_PER_DAY)} days of it`}.
- Then time, not quota, bounds the backfill: the single loader runs the commit scripts one after
  another. Assuming ~${ASSUMED_SCRIPT_SECONDS} s per script in BigQuery (an assumption, not measured here: job start-up
  plus a DML INSERT of one batch's ~${fmt(objectsPerBatch * rowsPerObject)} rows), ${fmt(archiveJobs)} scripts take ~${fmt((archiveJobs * ASSUMED_SCRIPT_SECONDS) / 3600, 0)} h;
  larger batches (\`PV_LOAD_BATCH_ROWS\` / \`--batch-rows\`) cut the job and script counts in proportion.
- Objects at 15-minute cadence (${fmt(quarterHourRows)} rows) hit the ${DEFAULT_BATCH_OBJECTS}-object cap:
  ~${fmt(quarterHourJobs)} load jobs for the archive.
- Had the loads gone straight into \`pv_readings\`, 1,500 per day would need ≥ ${fmt(neededPerJob)} objects per job
  (\`PV_LOAD_BATCH_OBJECTS\` ≥ ${fmt(neededPerJob)} and \`PV_LOAD_BATCH_ROWS\` / \`--batch-rows\` ≥
  ${fmt(neededPerJob * rowsPerObject)} at this shape) for a one-day backfill, or the defaults spread over
  ~${fmt(Math.ceil(archiveJobs / LOAD_JOBS_PER_TABLE_PER_DAY))} days; the staging-table design avoids both.
- In cluster mode \`PV_LOAD_MAX_WAIT_MS\` (2 s) also closes a batch; with slow workers batches are smaller
  than the caps and the job count grows accordingly (still one per staging table).

Reproduce: \`npm run bench:bigquery -- --systems ${args.systems}${args.batchRows !== undefined ? ` --batch-rows ${args.batchRows}` : ''}\` (options \`--systems N\` (default 8),
\`--batch-rows N\`, \`--small\`, \`--no-write\`).
`;
    out(body);
    if (args.write) {
      writeResultsSection(join(BENCH_DIR, 'RESULTS.md'), 'bigquery', body);
      out('wrote bench/RESULTS.md (section "bigquery")');
    }
  } finally {
    await sink.close();
    await store.close();
    await fake.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:bigquery failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
