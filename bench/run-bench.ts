/**
 * `npm run bench`: the inline pipeline vs plain single-threaded DuckDB SQL on the same
 * synthetic PVDAQ mirror, in one process, side by side.
 *
 *   npm run bench -- [--formats parquet,csv] [--concurrency N] [--repeat N] [--no-write] [--small]
 *                    [--reference-first] [--batch-rows N] [--memory-limit SIZE]
 *
 * `--batch-rows` (runInline's batchRows, CLI `--batch-rows`) and `--memory-limit` (the sink URL's
 * `?memory_limit=`, CLI `--sink duckdb://FILE?memory_limit=…`) default to the CLI defaults
 * (1,000,000 and the sink's `DUCKDB_DEFAULT_MEMORY_LIMIT`); they are there to try configurations, the issue's figures use the defaults.
 *
 * - Makes sure the mirror exists (bench/generate-mirror.ts; reused when params.json matches).
 * - Reads every mirror file once (page cache warm for both phases).
 * - Per format (daily Parquet, then daily CSV; `--formats`), these phases:
 *   - "pipeline": runInline over file://<mirror> into a fresh bench/out/pipeline-<format>.duckdb,
 *     wired as the CLI does (openObjectStore, openSink + init, logger at warn);
 *   - "reference": bench/reference.ts, DuckDB SQL with threads = 1 (runReference for Parquet,
 *     runCsvReference for CSV), into a fresh bench/out/reference-<format>.duckdb;
 *   - "floor" (Parquet only): DuckDB copying the same files as they are (runRawCopy);
 *   - "storage floor": DuckDB storing the pipeline's loaded rows as the sink stores them, into a table of
 *     its own: what storing these rows costs, whatever produced them.
 * - By default the pipeline runs FIRST and the reference second (`--reference-first` swaps),
 *   in every repetition (`--repeat N`, default 1: the figures are then medians of N pairs and
 *   the RSS figures the highest of the N runs; the machine is noisy).
 * - Checks both tables hold the same rows: per ss_id the count, fsum(value), the sum of
 *   epoch µs of `timestamp` and an order-independent XOR of a hash of every column. Any
 *   difference is printed loudly and the exit code is 1.
 * - Prints the figures and writes its section of bench/RESULTS.md (only when both formats ran;
 *   not with --no-write; --small never writes, it is a smoke run on bench/data/mirror-small).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { createLogger } from '@pv-pipeline/core';
import { openObjectStore } from '@pv-pipeline/pvdaq';
import { DUCKDB_DEFAULT_MEMORY_LIMIT, openSink } from '@pv-pipeline/sinks';
import { type RunSummary, runInline, validateRunRequest } from '@pv-pipeline/stages';
import { type Check, compare } from './compare.js';
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
import { benchCommit, mb, measurePhase, median, nodeRuntime, type PhaseMeasure, procStatus } from './measure.js';
import { type ReferenceResult, runCsvReference, runRawCopy, runReference, runStoreCopy } from './reference.js';
import { writeResultsSection } from './results-section.js';

/** Our section of bench/RESULTS.md (other benches write their own sections). */
const RESULTS_SECTION = 'inline-vs-duckdb';

/** The daily formats a bench run loads (both by default). */
type BenchFormat = 'parquet' | 'csv';

interface Args {
  formats: BenchFormat[];
  concurrency: number;
  repeat: number;
  batchRows: number | null;
  memoryLimit: string | null;
  write: boolean;
  small: boolean;
  referenceFirst: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    formats: ['parquet', 'csv'],
    concurrency: 4,
    repeat: 1,
    batchRows: null,
    memoryLimit: null,
    write: true,
    small: false,
    referenceFirst: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--concurrency' || arg.startsWith('--concurrency=')) {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (!v || !/^[1-9]\d*$/.test(v)) throw new Error(`--concurrency needs a positive integer, got ${v ?? 'nothing'}`);
      a.concurrency = Number(v);
    } else if (arg === '--repeat' || arg.startsWith('--repeat=')) {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (!v || !/^[1-9]\d*$/.test(v)) throw new Error(`--repeat needs a positive integer, got ${v ?? 'nothing'}`);
      a.repeat = Number(v);
    } else if (arg === '--batch-rows' || arg.startsWith('--batch-rows=')) {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (!v || !/^[1-9]\d*$/.test(v)) throw new Error(`--batch-rows needs a positive integer, got ${v ?? 'nothing'}`);
      a.batchRows = Number(v);
    } else if (arg === '--memory-limit' || arg.startsWith('--memory-limit=')) {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (!v || !/^\d+(\.\d+)?\s*[KMGT]i?B$/i.test(v))
        throw new Error(`--memory-limit needs a size like 256MB, got ${v ?? 'nothing'}`);
      a.memoryLimit = v;
    } else if (arg === '--formats' || arg.startsWith('--formats=')) {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      const list = (v ?? '').split(',').map((f) => f.trim());
      if (list.length === 0 || list.some((f) => f !== 'parquet' && f !== 'csv'))
        throw new Error(`--formats needs parquet, csv or both (comma-separated), got ${v ?? 'nothing'}`);
      a.formats = [...new Set(list)] as BenchFormat[];
    } else if (arg === '--no-write') a.write = false;
    else if (arg === '--write-results=false') a.write = false;
    else if (arg === '--small') a.small = true;
    else if (arg === '--reference-first') a.referenceFirst = true;
    else
      throw new Error(
        `unknown argument ${arg} (known: --formats parquet,csv, --concurrency N, --repeat N, --batch-rows N, --memory-limit SIZE, --no-write, --small, --reference-first)`,
      );
  }
  if (a.small) a.write = false;
  return a;
}

const out = (s = '') => process.stdout.write(`${s}\n`);
const loud = (s: string) => process.stderr.write(`\n!!!!!!!! ${s}\n`);

/** Every file under `dir`, recursively. */
function walk(dir: string): string[] {
  const files: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) files.push(...walk(p));
    else if (e.isFile()) files.push(p);
  }
  return files;
}

interface PipelinePhase {
  summary: RunSummary;
}

async function pipelinePhase(
  root: string,
  dbPath: string,
  p: MirrorParams,
  format: BenchFormat,
  args: Args,
): Promise<PipelinePhase> {
  for (const suffix of ['', '.wal']) rmSync(`${dbPath}${suffix}`, { force: true });
  const logger = createLogger({ service: 'bench' }, { level: 'warn' });
  const request = validateRunRequest({
    systems: 'all',
    from: `${p.year}-${pad2(p.month)}-01`,
    to: `${p.year}-${pad2(p.month)}-${pad2(p.days)}`,
    format,
  });
  const store = openObjectStore(pathToFileURL(root).href);
  const sink = openSink(
    `duckdb://${dbPath}${args.memoryLimit ? `?memory_limit=${encodeURIComponent(args.memoryLimit)}` : ''}`,
  );
  await sink.init();
  try {
    const summary = await runInline({
      request,
      store,
      sink,
      logger,
      concurrency: args.concurrency,
      ...(args.batchRows ? { batchRows: args.batchRows } : {}),
    });
    return { summary };
  } finally {
    await sink.close();
    await store.close();
  }
}

/** Every run of one format's phases, and the figures made of them. */
interface FormatFigures {
  format: BenchFormat;
  objects: number;
  bytes: number;
  readings: number;
  summary: RunSummary;
  ref: ReferenceResult;
  pipeline: PhaseMeasure;
  reference: PhaseMeasure;
  /** DuckDB storing the loaded rows as the sink stores them (runStoreCopy). */
  store: PhaseMeasure;
  /** Daily Parquet only: DuckDB copying the same files as they are (runRawCopy). */
  floor: { measure: PhaseMeasure; rows: number } | null;
  runs: { pipeline: PhaseMeasure[]; reference: PhaseMeasure[] };
}

interface Figures {
  date: string;
  nproc: number;
  cpuModel: string;
  /** The node version and its flags (nodeRuntime). */
  node: string;
  duckdb: string;
  load: number;
  concurrency: number;
  batchRows: number;
  memoryLimit: string;
  order: string;
  systems: number;
  commit: string;
  processHwm: number;
  formats: FormatFigures[];
}

/** Median of the wall and CPU times, highest of the RSS figures. */
function combine(ms: PhaseMeasure[]): PhaseMeasure {
  const hwms = ms.map((m) => m.vmHwm).filter((x): x is number => x !== null);
  return {
    wallSeconds: median(ms.map((m) => m.wallSeconds)),
    cpuSeconds: median(ms.map((m) => m.cpuSeconds)),
    rssStart: ms[0]!.rssStart,
    rssPeakSampled: Math.max(...ms.map((m) => m.rssPeakSampled)),
    vmHwm: hwms.length > 0 ? Math.max(...hwms) : null,
    vmHwmReset: ms.every((m) => m.vmHwmReset),
    samples: ms.reduce((s, m) => s + m.samples, 0),
  };
}

function nproc(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return 0;
  }
}

function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const rate = (n: number, s: number) => Math.round(n / s);
const fmtInt = (n: number) => n.toLocaleString('en-US');
const FORMAT_NAMES: Record<BenchFormat, string> = { parquet: 'daily Parquet', csv: 'daily CSV' };

/** Per-run table (only with --repeat > 1). Later runs start with what earlier phases left in RSS. */
function perRunMarkdown(f: FormatFigures): string {
  if (f.runs.pipeline.length < 2) return '';
  const lines = f.runs.pipeline.map((p, i) => {
    const r = f.runs.reference[i]!;
    return `| ${i + 1} | ${p.wallSeconds.toFixed(1)} | ${p.cpuSeconds.toFixed(1)} | ${mb(p.rssStart)} → ${mb(Math.max(p.rssPeakSampled, p.vmHwm ?? 0))} | ${r.wallSeconds.toFixed(1)} | ${r.cpuSeconds.toFixed(1)} |`;
  });
  return `
| run | pipeline wall s | pipeline CPU s | pipeline RSS start → peak | reference wall s | reference CPU s |
|---:|---:|---:|---:|---:|---:|
${lines.join('\n')}
`;
}

/** The section of one format: its table, the ratios per core and the per-run figures. */
function formatMarkdown(f: FormatFigures): string {
  const pr = rate(f.readings, f.pipeline.wallSeconds);
  const rr = rate(f.readings, f.reference.wallSeconds);
  const row = (name: string, m: PhaseMeasure, r: number) =>
    `| ${name} | ${m.wallSeconds.toFixed(1)} | ${fmtInt(r)} | ${m.cpuSeconds.toFixed(1)} | ${mb(m.rssPeakSampled)} | ${mb(m.vmHwm)} |`;
  const steps = Object.entries(f.ref.steps)
    .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
    .join(', ');
  const name = FORMAT_NAMES[f.format];
  const reference =
    f.format === 'parquet'
      ? 'read_parquet, dedup window, UTC, join, insert'
      : 'read_csv + UNPIVOT per system, then the same';
  const floor = f.floor;
  const floorRow = floor
    ? `\n${row(`floor: \`CREATE TABLE AS SELECT * FROM read_parquet(…)\` of the same files (1 thread; ${fmtInt(floor.rows)} raw rows)`, floor.measure, rate(floor.rows, floor.measure.wallSeconds))}`
    : '';
  const perCore = [
    `the reference needs **${(f.reference.cpuSeconds / f.pipeline.cpuSeconds).toFixed(2)}×** the pipeline's CPU (issue: ${f.format === 'csv' ? '≥ 3×' : 'none'})`,
    floor
      ? `the pipeline needs **${(f.pipeline.cpuSeconds / floor.measure.cpuSeconds).toFixed(2)}×** the raw copy's CPU (issue: ≤ 3×)`
      : null,
    `storing the loaded rows alone takes ${(f.store.cpuSeconds / f.pipeline.cpuSeconds).toFixed(2)}× the pipeline's CPU${
      floor ? ` and ${(f.store.cpuSeconds / floor.measure.cpuSeconds).toFixed(2)}× the raw copy's` : ''
    }`,
  ].filter((x) => x !== null);
  return `### ${name}: ${fmtInt(f.objects)} objects (${mb(f.bytes)} on disk), **${fmtInt(f.readings)} readings loaded**

Dropped by the pipeline's rules: ${fmtInt(f.summary.dropped.missing)} missing, ${fmtInt(f.summary.dropped.sentinel)} sentinel, ${fmtInt(
    f.summary.dropped.duplicate,
  )} duplicate. Reference (${reference}): memory_limit ${f.ref.memoryLimit}; ${steps}.

| phase | wall s | readings/s | CPU s (all threads) | peak RSS (50 ms samples) | VmHWM (phase) |
|---|---:|---:|---:|---:|---:|
${row('pipeline', f.pipeline, pr)}
${row('reference: DuckDB SQL, 1 thread', f.reference, rr)}${floorRow}
${row('storage floor: DuckDB storing the loaded rows as the sink stores them (`CREATE TABLE AS SELECT * FROM pv_reading_rows`, 1 thread)', f.store, rate(f.readings, f.store.wallSeconds))}

Throughput pipeline / reference **${(pr / rr).toFixed(2)}×**. Per core (CPU seconds): ${perCore.join('; ')}.
${perRunMarkdown(f)}`;
}

function resultsMarkdown(f: Figures): string {
  const first = f.formats[0]!;
  return `## Inline pipeline vs DuckDB SQL on one thread (\`npm run bench\`)

Latest full run, written by \`bench/run-bench.ts\` (this section is replaced on every full run).

- Date: ${f.date}, commit ${f.commit}, load average ${f.load.toFixed(2)} at the start
- Machine: nproc ${f.nproc} (${f.cpuModel}), ${f.node}, DuckDB ${f.duckdb}
- Data: synthetic mirror in the OEDI layout (\`bench/generate-mirror.ts\`): ${f.systems} systems, the same days as
  daily Parquet and as daily wide CSV (the CSV holds each minute's last value, so both load the same readings)
- Pipeline: \`runInline\`, concurrency ${f.concurrency}, batchRows ${fmtInt(f.batchRows)}, DuckDB sink (its default threads, memory_limit ${f.memoryLimit})
- Order: ${f.order}, per format; page cache warmed first; ${
    first.runs.pipeline.length > 1
      ? `${first.runs.pipeline.length} runs of each phase: wall, CPU and readings/s are medians, RSS the highest run (per-run figures below)`
      : 'one run of each phase'
  }; every run's rows checked equal to the reference's (per system: count, fsum, Σ timestamp, XOR of whole-row hashes)
- Process peak RSS over the whole bench (VmHWM): ${mb(f.processHwm)}

${f.formats.map(formatMarkdown).join('\n')}
Reproduce: \`npm run bench -- --repeat 3\` (the first run generates \`bench/data/mirror\`, ~30 s; options
\`--formats parquet,csv\`, \`--concurrency N\`, \`--repeat N\`, \`--reference-first\`, \`--batch-rows N\`,
\`--memory-limit SIZE\`, \`--no-write\`, \`--small\` for a 2 × 2-day smoke run).
`;
}

/** Runs one phase and says what it did. */
async function phase<T>(label: string, run: () => Promise<T>, said: (r: T, m: PhaseMeasure) => string) {
  out(`\n[${label}]`);
  const r = await measurePhase(run);
  out(`  ${said(r.result, r.measure)}`);
  return r;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const params = args.small ? SMALL_PARAMS : FULL_PARAMS;
  const root = mirrorDir(args.small);
  const outDir = join(BENCH_DIR, 'out');
  mkdirSync(outDir, { recursive: true });
  const db = (name: string) => join(outDir, `${name}${args.small ? '-small' : ''}.duckdb`);
  const load = loadavg()[0]!;

  out(`mirror: ${relative(process.cwd(), root)}; load average ${load.toFixed(2)}`);
  const gen = await ensureMirror(root, params, (m) => out(m));
  out(gen.generated ? `  generated in ${gen.seconds.toFixed(1)} s` : '  reused (params.json matches)');

  // Warm the page cache so that no phase pays for the first disk read.
  const files = walk(root);
  const sizes = new Map(files.map((f) => [f, readFileSync(f).byteLength]));
  const objectsOf = (format: BenchFormat) => files.filter((f) => f.includes(join(format, 'pvdata')));
  out(`  ${files.length} files, ${mb([...sizes.values()].reduce((a, b) => a + b, 0))}`);

  const hwmBeforePhases = procStatus().hwm;
  const order = args.referenceFirst ? ['reference', 'pipeline'] : ['pipeline', 'reference'];
  const formats: FormatFigures[] = [];
  const hwms: number[] = [];
  let ok = true;
  for (const format of args.formats) {
    const pipelineDb = db(`pipeline-${format}`);
    const referenceDb = db(`reference-${format}`);
    const pipeRuns: Array<{ result: PipelinePhase; measure: PhaseMeasure }> = [];
    const refRuns: Array<{ result: ReferenceResult; measure: PhaseMeasure }> = [];
    const storeRuns: PhaseMeasure[] = [];
    const floorRuns: Array<{ result: { rows: number }; measure: PhaseMeasure }> = [];
    for (let rep = 1; rep <= args.repeat && ok; rep++) {
      const tag = `${FORMAT_NAMES[format]}${args.repeat > 1 ? `, run ${rep}/${args.repeat}` : ''}`;
      for (const which of order) {
        if (which === 'pipeline') {
          const pipe = await phase(
            `pipeline, ${tag}`,
            () => pipelinePhase(root, pipelineDb, params, format, args),
            ({ summary: s }, m) =>
              `${s.state}: ${fmtInt(s.counts.readings)} readings from ${s.counts.loaded}/${s.counts.planned} objects in ${m.wallSeconds.toFixed(1)} s, CPU ${m.cpuSeconds.toFixed(1)} s`,
          );
          pipeRuns.push(pipe);
          for (const f of pipe.result.summary.failures.slice(0, 5)) out(`  failed: ${f.key}: ${f.reason}`);
        } else {
          const reference = format === 'parquet' ? runReference : runCsvReference;
          refRuns.push(
            await phase(
              `reference, ${tag}: DuckDB SQL, threads = 1`,
              () => reference({ root, dbPath: referenceDb, threads: 1 }),
              (r, m) =>
                `${fmtInt(r.readings)} readings in ${m.wallSeconds.toFixed(1)} s, CPU ${m.cpuSeconds.toFixed(1)} s`,
            ),
          );
        }
      }
      if (format === 'parquet') {
        floorRuns.push(
          await phase(
            `floor, ${tag}: DuckDB copying the same Parquet files as they are, threads = 1`,
            () => runRawCopy({ root, dbPath: db('floor'), threads: 1 }),
            (r, m) => `${fmtInt(r.rows)} raw rows in ${m.wallSeconds.toFixed(1)} s, CPU ${m.cpuSeconds.toFixed(1)} s`,
          ),
        );
      }
      const stored = await phase(
        `storage floor, ${tag}: DuckDB storing the loaded rows as the sink stores them, threads = 1`,
        () => runStoreCopy(pipelineDb, db('stored')),
        (r, m) => `${fmtInt(r.rows)} rows in ${m.wallSeconds.toFixed(1)} s, CPU ${m.cpuSeconds.toFixed(1)} s`,
      );
      storeRuns.push(stored.measure);

      out(`\n[check, ${tag}] comparing pv_readings of both databases per ss_id`);
      const check: Check = await compare(pipelineDb, referenceDb);
      const summary = pipeRuns.at(-1)!.result.summary;
      if (summary.counts.failed > 0) check.mismatches.unshift(`the pipeline failed ${summary.counts.failed} objects`);
      if (summary.counts.readings !== check.rows.pipeline) {
        check.mismatches.unshift(
          `the pipeline summary says ${summary.counts.readings} readings, its table holds ${check.rows.pipeline}`,
        );
      }
      if (check.ok && check.mismatches.length === 0) {
        out(
          `  OK: ${fmtInt(check.rows.pipeline)} rows, identical per ss_id (count, sum(value), Σ timestamp, row hashes)`,
        );
      } else {
        ok = false;
        loud(`MISMATCH between pipeline and reference: ${check.rows.pipeline} vs ${check.rows.reference} rows`);
        for (const m of check.mismatches.slice(0, 40)) process.stderr.write(`!!!!!!!!   ${m}\n`);
      }
    }
    if (!ok) break;
    hwms.push(
      ...[...pipeRuns, ...refRuns, ...floorRuns].map((r) => r.measure.vmHwm ?? 0),
      ...storeRuns.map((m) => m.vmHwm ?? 0),
    );
    formats.push({
      format,
      objects: objectsOf(format).length,
      bytes: objectsOf(format).reduce((s, f) => s + (sizes.get(f) ?? 0), 0),
      readings: pipeRuns.at(-1)!.result.summary.counts.readings,
      summary: pipeRuns.at(-1)!.result.summary,
      ref: refRuns.at(-1)!.result,
      pipeline: combine(pipeRuns.map((r) => r.measure)),
      reference: combine(refRuns.map((r) => r.measure)),
      store: combine(storeRuns),
      floor:
        floorRuns.length > 0
          ? { measure: combine(floorRuns.map((r) => r.measure)), rows: floorRuns.at(-1)!.result.rows }
          : null,
      runs: { pipeline: pipeRuns.map((r) => r.measure), reference: refRuns.map((r) => r.measure) },
    });
  }
  // VmHWM is reset at every phase start: the process peak is the highest of the phases' and
  // of what came before the first reset (generation, cache warming).
  const processHwm = Math.max(hwmBeforePhases ?? 0, ...hwms, procStatus().hwm ?? 0);
  const duckdbVersion = await (async () => {
    const d = await DuckDBInstance.create(':memory:');
    const c = await d.connect();
    const v = String((await c.runAndReadAll('SELECT version()')).getRowsJS()[0]?.[0]);
    c.closeSync();
    d.closeSync();
    return v;
  })();
  const fig: Figures = {
    date: new Date().toISOString(),
    nproc: nproc(),
    cpuModel: cpuModel(),
    node: nodeRuntime(),
    duckdb: duckdbVersion,
    load,
    concurrency: args.concurrency,
    batchRows: args.batchRows ?? 1_000_000,
    memoryLimit: args.memoryLimit ?? DUCKDB_DEFAULT_MEMORY_LIMIT,
    order: `${order[0]} first, ${order[1]} second`,
    systems: systemsOf(params).length,
    commit: benchCommit(),
    processHwm,
    formats,
  };
  out('\n=== results ===');
  out(`date ${fig.date}; nproc ${fig.nproc}; ${fig.node}; DuckDB ${fig.duckdb}; load average ${load.toFixed(2)}`);
  for (const f of formats) {
    const line = (name: string, m: PhaseMeasure) =>
      out(
        `${name.padEnd(26)} ${m.wallSeconds.toFixed(1).padStart(7)} s  CPU ${m.cpuSeconds.toFixed(1).padStart(6)} s  peak RSS ${mb(
          Math.max(m.rssPeakSampled, m.vmHwm ?? 0),
        ).padStart(8)}`,
      );
    out(`${FORMAT_NAMES[f.format]}: ${fmtInt(f.readings)} readings from ${f.objects} objects`);
    line('  pipeline', f.pipeline);
    line('  reference (1 thread)', f.reference);
    if (f.floor) line('  floor (raw copy)', f.floor.measure);
    line('  storage floor', f.store);
    out(
      `  CPU per core: reference / pipeline ${(f.reference.cpuSeconds / f.pipeline.cpuSeconds).toFixed(2)}x${
        f.floor ? `, pipeline / floor ${(f.pipeline.cpuSeconds / f.floor.measure.cpuSeconds).toFixed(2)}x` : ''
      }, storage floor / pipeline ${(f.store.cpuSeconds / f.pipeline.cpuSeconds).toFixed(2)}x`,
    );
  }
  out(`process peak RSS (VmHWM, whole run): ${mb(processHwm)}`);

  if (args.write && ok && formats.length === 2) {
    writeResultsSection(join(BENCH_DIR, 'RESULTS.md'), RESULTS_SECTION, resultsMarkdown(fig));
    out(`wrote ${relative(process.cwd(), join(BENCH_DIR, 'RESULTS.md'))}`);
  } else if (args.write && !ok) out('RESULTS.md not written: the check failed');
  else out(`RESULTS.md not written (${args.small ? '--small' : args.write ? 'one format only' : '--no-write'})`);
  process.exitCode = ok ? 0 : 1;
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
