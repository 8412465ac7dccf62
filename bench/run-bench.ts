/**
 * `npm run bench`: the inline pipeline vs plain single-threaded DuckDB SQL on the same
 * synthetic PVDAQ mirror, in one process, side by side.
 *
 *   npm run bench -- [--concurrency N] [--repeat N] [--no-write] [--small] [--reference-first]
 *                    [--batch-rows N] [--memory-limit SIZE]
 *
 * `--batch-rows` (runInline's batchRows, CLI `--batch-rows`) and `--memory-limit` (the sink URL's
 * `?memory_limit=`, CLI `--sink duckdb://FILE?memory_limit=…`) default to the CLI defaults
 * (1,000,000 and 96MB); they are there to try configurations, the issue's figures use the defaults.
 *
 * - Makes sure the mirror exists (bench/generate-mirror.ts; reused when params.json matches).
 * - Reads every mirror file once (page cache warm for both phases).
 * - Phase "pipeline": runInline over file://<mirror> into a fresh bench/out/pipeline.duckdb,
 *   wired as the CLI does (openObjectStore, openSink + init, logger at warn).
 * - Phase "reference": bench/reference.ts, DuckDB SQL with threads = 1, into a fresh
 *   bench/out/reference.duckdb.
 * - By default the pipeline runs FIRST and the reference second (`--reference-first` swaps),
 *   in every repetition (`--repeat N`, default 1: the figures are then medians of N pairs and
 *   the RSS figures the highest of the N runs; the machine is noisy).
 * - Checks both tables hold the same rows: per ss_id the count, fsum(value), the sum of
 *   epoch µs of `timestamp` and an order-independent XOR of a hash of every column. Any
 *   difference is printed loudly and the exit code is 1.
 * - Prints the figures and writes its section of bench/RESULTS.md (not with --no-write;
 *   --small never writes, it is a smoke run on bench/data/mirror-small).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { createLogger } from '@pv-pipeline/core';
import { openObjectStore } from '@pv-pipeline/pvdaq';
import { openSink } from '@pv-pipeline/sinks';
import { type RunSummary, runInline, validateRunRequest } from '@pv-pipeline/stages';
import { type Check, compare } from './compare.js';
import {
  BENCH_DIR,
  ensureMirror,
  FULL_PARAMS,
  type MirrorParams,
  mirrorDir,
  SMALL_PARAMS,
  systemsOf,
} from './generate-mirror.js';
import { mb, measurePhase, type PhaseMeasure, procStatus } from './measure.js';
import { type ReferenceResult, runRawCopy, runReference } from './reference.js';
import { writeResultsSection } from './results-section.js';

/** Our section of bench/RESULTS.md (other benches write their own sections). */
const RESULTS_SECTION = 'inline-vs-duckdb';

interface Args {
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
    } else if (arg === '--no-write') a.write = false;
    else if (arg === '--write-results=false') a.write = false;
    else if (arg === '--small') a.small = true;
    else if (arg === '--reference-first') a.referenceFirst = true;
    else
      throw new Error(
        `unknown argument ${arg} (known: --concurrency N, --repeat N, --batch-rows N, --memory-limit SIZE, --no-write, --small, --reference-first)`,
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

const pad2 = (n: number) => String(n).padStart(2, '0');

interface PipelinePhase {
  summary: RunSummary;
}

async function pipelinePhase(root: string, dbPath: string, p: MirrorParams, args: Args): Promise<PipelinePhase> {
  for (const suffix of ['', '.wal']) rmSync(`${dbPath}${suffix}`, { force: true });
  const logger = createLogger({ service: 'bench' }, { level: 'warn' });
  const request = validateRunRequest({
    systems: 'all',
    from: `${p.year}-${pad2(p.month)}-01`,
    to: `${p.year}-${pad2(p.month)}-${pad2(p.days)}`,
    format: 'parquet',
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

interface Figures {
  date: string;
  nproc: number;
  cpuModel: string;
  node: string;
  duckdb: string;
  concurrency: number;
  batchRows: number;
  memoryLimit: string;
  order: string;
  objects: number;
  mirrorBytes: number;
  systems: number;
  readings: number;
  pipeline: PhaseMeasure;
  reference: PhaseMeasure;
  /** The floor: DuckDB copying the same files as they are (runRawCopy). */
  floor: PhaseMeasure;
  floorRows: number;
  commit: string;
  processHwm: number;
  summary: RunSummary;
  ref: ReferenceResult;
  /** Every run's measures, in order. */
  runs: { pipeline: PhaseMeasure[]; reference: PhaseMeasure[]; floor: PhaseMeasure[] };
}

/** Median of the wall and CPU times, highest of the RSS figures. */
function combine(ms: PhaseMeasure[]): PhaseMeasure {
  const median = (xs: number[]) => {
    const a = [...xs].sort((x, y) => x - y);
    const m = Math.floor(a.length / 2);
    return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
  };
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

/** Per-run table (only with --repeat > 1). Later runs start with what earlier phases left in RSS. */
function perRunMarkdown(f: Figures): string {
  if (f.runs.pipeline.length < 2) return '';
  const lines = f.runs.pipeline.map((p, i) => {
    const r = f.runs.reference[i]!;
    return `| ${i + 1} | ${p.wallSeconds.toFixed(1)} | ${mb(p.rssStart)} → ${mb(Math.max(p.rssPeakSampled, p.vmHwm ?? 0))} | ${r.wallSeconds.toFixed(1)} | ${mb(r.rssStart)} → ${mb(Math.max(r.rssPeakSampled, r.vmHwm ?? 0))} |`;
  });
  return `
| run | pipeline wall s | pipeline RSS start → peak | reference wall s | reference RSS start → peak |
|---:|---:|---:|---:|---:|
${lines.join('\n')}
`;
}

function resultsMarkdown(f: Figures): string {
  const pr = rate(f.readings, f.pipeline.wallSeconds);
  const rr = rate(f.readings, f.reference.wallSeconds);
  const row = (name: string, m: PhaseMeasure, r: number) =>
    `| ${name} | ${m.wallSeconds.toFixed(1)} | ${fmtInt(r)} | ${m.cpuSeconds.toFixed(1)} | ${mb(m.rssPeakSampled)} | ${mb(m.vmHwm)} | ${mb(m.rssStart)} |`;
  const steps = Object.entries(f.ref.steps)
    .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
    .join(', ');
  return `## Inline pipeline vs DuckDB SQL on one thread (\`npm run bench\`)

Latest full run, written by \`bench/run-bench.ts\` (this section is replaced on every full run).

- Date: ${f.date}, commit ${f.commit}
- Machine: nproc ${f.nproc} (${f.cpuModel}), node ${f.node}, DuckDB ${f.duckdb}
- Data: synthetic mirror in the OEDI layout (\`bench/generate-mirror.ts\`): ${f.systems} systems,
  ${fmtInt(f.objects)} daily Parquet objects (${mb(f.mirrorBytes)} on disk), **${fmtInt(f.readings)} readings loaded**
  (after dropping ${fmtInt(f.summary.dropped.missing)} missing and ${fmtInt(f.summary.dropped.duplicate)} duplicate rows)
- Pipeline: \`runInline\`, concurrency ${f.concurrency}, batchRows ${fmtInt(f.batchRows)}, DuckDB sink (its default threads, memory_limit ${f.memoryLimit})
- Reference: DuckDB SQL, \`SET threads = 1\`, memory_limit ${f.ref.memoryLimit} (${steps})
- Order: ${f.order}; page cache warmed before both phases; ${
    f.runs.pipeline.length > 1
      ? `${f.runs.pipeline.length} runs of each phase: wall, CPU and readings/s are medians, RSS the highest run (per-run figures below)`
      : 'one run of each phase'
  }

| phase | wall s | readings/s | CPU s (all threads) | peak RSS (50 ms samples) | VmHWM (phase) | RSS at start |
|---|---:|---:|---:|---:|---:|---:|
${row('pipeline', f.pipeline, pr)}
${row('reference (DuckDB, 1 thread)', f.reference, rr)}
${row(`floor: \`CREATE TABLE AS SELECT * FROM read_parquet(…)\` (DuckDB, 1 thread; ${fmtInt(f.floorRows)} raw rows)`, f.floor, rate(f.floorRows, f.floor.wallSeconds))}

**pipeline / reference throughput: ${(pr / rr).toFixed(2)}×** · per core (CPU seconds): the reference
needs ${(f.reference.cpuSeconds / f.pipeline.cpuSeconds).toFixed(2)}× the pipeline's CPU; the pipeline needs
**${(f.pipeline.cpuSeconds / f.floor.cpuSeconds).toFixed(2)}× the floor's CPU** (issue: ≤ 3×) · process peak RSS over the whole run (VmHWM): ${mb(f.processHwm)}
${perRunMarkdown(f)}
Targets (issue): pipeline ≥ DuckDB on one thread → ${pr >= rr ? 'met' : 'NOT met'}; pipeline peak RSS < 512 MB → ${
    Math.max(f.pipeline.rssPeakSampled, f.pipeline.vmHwm ?? 0) < 512 * 1024 * 1024 ? 'met' : 'NOT met'
  }.

Reproduce: \`npm run bench -- --repeat 3\` (the first run generates \`bench/data/mirror\`, ~15 s; options
\`--concurrency N\`, \`--repeat N\`, \`--reference-first\`, \`--batch-rows N\`, \`--memory-limit SIZE\`, \`--no-write\`,
\`--small\` for a 2 × 2-day smoke run).
`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const params = args.small ? SMALL_PARAMS : FULL_PARAMS;
  const root = mirrorDir(args.small);
  const outDir = join(BENCH_DIR, 'out');
  mkdirSync(outDir, { recursive: true });
  const pipelineDb = join(outDir, args.small ? 'pipeline-small.duckdb' : 'pipeline.duckdb');
  const referenceDb = join(outDir, args.small ? 'reference-small.duckdb' : 'reference.duckdb');
  const floorDb = join(outDir, args.small ? 'floor-small.duckdb' : 'floor.duckdb');

  out(`mirror: ${relative(process.cwd(), root)}`);
  const gen = await ensureMirror(root, params, (m) => out(m));
  out(gen.generated ? `  generated in ${gen.seconds.toFixed(1)} s` : '  reused (params.json matches)');

  // Warm the page cache so that neither phase pays for the first disk read.
  const files = walk(root);
  let mirrorBytes = 0;
  for (const f of files) mirrorBytes += readFileSync(f).byteLength;
  const objects = files.filter((f) => f.includes(`${join('parquet', 'pvdata')}`)).length;
  out(`  ${objects} pvdata objects, ${files.length} files, ${mb(mirrorBytes)}`);

  const hwmBeforePhases = procStatus().hwm;
  const order = args.referenceFirst ? ['reference', 'pipeline'] : ['pipeline', 'reference'];
  out(`order: ${order.join(' first, then ')}`);

  const pipeRuns: Array<{ result: PipelinePhase; measure: PhaseMeasure }> = [];
  const refRuns: Array<{ result: ReferenceResult; measure: PhaseMeasure }> = [];
  const floorRuns: Array<{ result: { rows: number }; measure: PhaseMeasure }> = [];
  let check: Check | null = null;
  let ok = true;
  for (let rep = 1; rep <= args.repeat; rep++) {
    const tag = args.repeat > 1 ? ` (run ${rep}/${args.repeat})` : '';
    for (const phase of order) {
      if (phase === 'pipeline') {
        out(
          `\n[pipeline${tag}] runInline, concurrency ${args.concurrency}, batchRows ${fmtInt(args.batchRows ?? 1_000_000)}, sink memory_limit ${args.memoryLimit ?? '96MB'} → ${relative(process.cwd(), pipelineDb)}`,
        );
        const pipe = await measurePhase(() => pipelinePhase(root, pipelineDb, params, args));
        pipeRuns.push(pipe);
        const s = pipe.result.summary;
        out(
          `  ${s.state}: ${fmtInt(s.counts.readings)} readings from ${s.counts.loaded}/${s.counts.planned} objects in ${pipe.measure.wallSeconds.toFixed(1)} s` +
            ` (dropped ${fmtInt(s.dropped.missing)} missing, ${fmtInt(s.dropped.duplicate)} duplicates; ${s.counts.failed} failed)`,
        );
        for (const f of s.failures.slice(0, 5)) out(`  failed: ${f.key}: ${f.reason}`);
      } else {
        out(`\n[reference${tag}] DuckDB SQL, threads = 1 → ${relative(process.cwd(), referenceDb)}`);
        const ref = await measurePhase(() => runReference({ root, dbPath: referenceDb, threads: 1 }));
        refRuns.push(ref);
        out(
          `  ${fmtInt(ref.result.readings)} readings in ${ref.measure.wallSeconds.toFixed(1)} s (${Object.entries(
            ref.result.steps,
          )
            .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
            .join(', ')})`,
        );
      }
    }

    out(`\n[floor${tag}] DuckDB copying the same Parquet files as they are, threads = 1`);
    const floor = await measurePhase(() => runRawCopy({ root, dbPath: floorDb, threads: 1 }));
    floorRuns.push(floor);
    out(
      `  ${fmtInt(floor.result.rows)} raw rows in ${floor.measure.wallSeconds.toFixed(1)} s, CPU ${floor.measure.cpuSeconds.toFixed(1)} s`,
    );

    out(`\n[check${tag}] comparing pv_readings of both databases per ss_id`);
    check = await compare(pipelineDb, referenceDb);
    const summary = pipeRuns.at(-1)!.result.summary;
    if (summary.counts.failed > 0) check.mismatches.unshift(`the pipeline failed ${summary.counts.failed} objects`);
    if (summary.counts.readings !== check.rows.pipeline) {
      check.mismatches.unshift(
        `the pipeline summary says ${summary.counts.readings} readings, its table holds ${check.rows.pipeline}`,
      );
    }
    const repOk = check.ok && check.mismatches.length === 0;
    ok &&= repOk;
    if (repOk) {
      out(
        `  OK: ${fmtInt(check.rows.pipeline)} rows, identical per ss_id (count, sum(value), Σ timestamp, row hashes)`,
      );
    } else {
      loud(`MISMATCH between pipeline and reference: ${check.rows.pipeline} vs ${check.rows.reference} rows`);
      for (const m of check.mismatches.slice(0, 40)) process.stderr.write(`!!!!!!!!   ${m}\n`);
      break;
    }
  }
  if (!check || pipeRuns.length === 0 || refRuns.length === 0 || floorRuns.length === 0)
    throw new Error('a phase did not run');
  // VmHWM is reset at every phase start: the process peak is the highest of the phases' and
  // of what came before the first reset (generation, cache warming).
  const processHwm = Math.max(
    hwmBeforePhases ?? 0,
    ...[...pipeRuns, ...refRuns, ...floorRuns].map((r) => r.measure.vmHwm ?? 0),
    procStatus().hwm ?? 0,
  );
  const summary = pipeRuns.at(-1)!.result.summary;
  const pipe = { measure: combine(pipeRuns.map((r) => r.measure)), runs: pipeRuns.map((r) => r.measure) };
  const ref = {
    measure: combine(refRuns.map((r) => r.measure)),
    runs: refRuns.map((r) => r.measure),
    result: refRuns.at(-1)!.result,
  };

  const readings = check.rows.reference;
  const duckdbVersion = await (async () => {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const v = String((await c.runAndReadAll('SELECT version()')).getRowsJS()[0]?.[0]);
    c.closeSync();
    db.closeSync();
    return v;
  })();
  const fig: Figures = {
    date: new Date().toISOString(),
    nproc: nproc(),
    cpuModel: cpuModel(),
    node: process.version,
    duckdb: duckdbVersion,
    concurrency: args.concurrency,
    batchRows: args.batchRows ?? 1_000_000,
    memoryLimit: args.memoryLimit ?? '96MB',
    order: `${order[0]} first, ${order[1]} second`,
    objects,
    mirrorBytes,
    systems: systemsOf(params).length,
    readings,
    pipeline: pipe.measure,
    reference: ref.measure,
    floor: combine(floorRuns.map((r) => r.measure)),
    floorRows: floorRuns.at(-1)?.result.rows ?? 0,
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(),
    runs: { pipeline: pipe.runs, reference: ref.runs, floor: floorRuns.map((r) => r.measure) },
    processHwm,
    summary,
    ref: ref.result,
  };
  const pr = rate(readings, pipe.measure.wallSeconds);
  const rr = rate(readings, ref.measure.wallSeconds);
  out('\n=== results ===');
  out(`date ${fig.date}; nproc ${fig.nproc}; node ${fig.node}; DuckDB ${fig.duckdb}`);
  out(`${fmtInt(readings)} readings, ${objects} objects, ${fig.systems} systems; order: ${fig.order}`);
  const line = (name: string, m: PhaseMeasure, r: number) =>
    out(
      `${name.padEnd(22)} ${m.wallSeconds.toFixed(1).padStart(7)} s  ${fmtInt(r).padStart(11)} readings/s  CPU ${m.cpuSeconds
        .toFixed(1)
        .padStart(6)} s  peak RSS ${mb(m.rssPeakSampled).padStart(8)} (sampled), ${mb(m.vmHwm).padStart(8)} (VmHWM${
        m.vmHwmReset ? '' : ', not reset'
      }), start ${mb(m.rssStart)}`,
    );
  line('pipeline', pipe.measure, pr);
  line('reference (1 thread)', ref.measure, rr);
  line('floor (raw copy)', fig.floor, rate(fig.floorRows, fig.floor.wallSeconds));
  out(
    `CPU per core: pipeline / floor ${(fig.pipeline.cpuSeconds / fig.floor.cpuSeconds).toFixed(2)}x, reference / pipeline ${(fig.reference.cpuSeconds / fig.pipeline.cpuSeconds).toFixed(2)}x`,
  );
  out(`ratio pipeline/reference: ${(pr / rr).toFixed(2)}x   process peak RSS (VmHWM, whole run): ${mb(processHwm)}`);
  if (args.repeat > 1) {
    out(`(medians of ${args.repeat} runs, RSS = highest run; per run: wall s, RSS start → peak)`);
    pipe.runs.forEach((p, i) => {
      const r = ref.runs[i]!;
      const peak = (m: PhaseMeasure) => mb(Math.max(m.rssPeakSampled, m.vmHwm ?? 0));
      out(
        `  run ${i + 1}: pipeline ${p.wallSeconds.toFixed(1)} s, ${mb(p.rssStart)} → ${peak(p)}; reference ${r.wallSeconds.toFixed(1)} s, ${mb(r.rssStart)} → ${peak(r)}`,
      );
    });
  }

  if (args.write && ok) {
    writeResultsSection(join(BENCH_DIR, 'RESULTS.md'), RESULTS_SECTION, resultsMarkdown(fig));
    out(`wrote ${relative(process.cwd(), join(BENCH_DIR, 'RESULTS.md'))}`);
  } else if (args.write) out('RESULTS.md not written: the check failed');
  else out(`RESULTS.md not written (${args.small ? '--small' : '--no-write'})`);
  process.exitCode = ok ? 0 : 1;
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
