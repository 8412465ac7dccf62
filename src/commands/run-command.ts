import { BadInputError, createLogger, describeError, PipelineError } from '@pv-pipeline/core';
import { openObjectStore } from '@pv-pipeline/pvdaq';
import { DEFAULT_SINK_URL, openSink } from '@pv-pipeline/sinks';
import {
  parseSystemsOption,
  partBytesFromMb,
  type RunCounts,
  runInline,
  validateRunRequest,
} from '@pv-pipeline/stages';
import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { formatSummary } from '../format-summary.js';

/** The public OEDI PVDAQ root, read anonymously. */
export const DEFAULT_SOURCE_URL = 's3://oedi-data-lake/pvdaq';

const positiveInt = (name: string) => (v: string) => {
  if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return Number(v);
};

const positiveNumber = (name: string) => (v: string) => {
  const n = Number(v);
  if (!/^\d*\.?\d+$/.test(v) || !(n > 0)) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

const nonNegativeInt = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a whole number`);
  return Number(v);
};

/** Options of `pv-pipeline run`, as commander parses them. */
interface RunCliOptions {
  source: string;
  format: string;
  systems: string;
  from?: string;
  to?: string;
  sink: string;
  concurrency: number;
  threads?: number;
  staging?: string;
  maxObjectMb: number;
  partMb: number;
  batchRows: number;
  s3Endpoint?: string;
  s3PathStyle?: boolean;
  bigqueryEndpoint?: string;
  json?: boolean;
  progress: boolean;
  logLevel?: string;
}

/** `pv-pipeline run`: the whole pipeline in one process (inline executor). */
export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('extract PVDAQ objects for systems × days, normalize them and load the sink')
    .option(
      '--source <url>',
      's3://bucket/prefix or file://DIR holding the PVDAQ layout',
      process.env.PV_SOURCE ?? DEFAULT_SOURCE_URL,
    )
    .option(
      '--format <format>',
      'parquet or csv daily files, or prize (the 2023 Solar Data Prize CSVs, whole files; --from/--to optional)',
      'parquet',
    )
    .option('--systems <ids>', 'comma-separated system ids, or all', 'all')
    .option('--from <day>', 'first day, YYYY-MM-DD')
    .option('--to <day>', 'last day, YYYY-MM-DD (inclusive)')
    .option(
      '--sink <url>',
      'duckdb://FILE, parquet://DIR or bigquery://PROJECT/DATASET[?mode=stream]',
      process.env.PV_SINK ?? DEFAULT_SINK_URL,
    )
    .option('--concurrency <n>', 'objects transformed at once', positiveInt('--concurrency'), 4)
    .option(
      '--threads <n>',
      'worker threads for decoding (default: cores − 1 on 3+ cores for runs of 100+ objects, else 0)',
      nonNegativeInt('--threads'),
    )
    .option('--staging <dir>', 'staging directory (default: a temp dir)')
    .option(
      '--max-object-mb <n>',
      'refuse daily objects larger than this (prize CSVs are streamed)',
      positiveInt('--max-object-mb'),
      256,
    )
    .option(
      '--part-mb <n>',
      'split prize CSVs into byte ranges of this size (MiB, fractions allowed), each its own job',
      positiveNumber('--part-mb'),
      16,
    )
    .option('--batch-rows <n>', 'fact rows per sink commit', positiveInt('--batch-rows'), 1_000_000)
    .option('--s3-endpoint <url>', 'S3-compatible endpoint (default: AWS)', process.env.S3_ENDPOINT)
    .option('--s3-path-style', 'path-style S3 addressing (default with --s3-endpoint)')
    .option(
      '--bigquery-endpoint <url>',
      'BigQuery API endpoint of an emulator or fake (no Google credentials are used with it)',
      process.env.BIGQUERY_API_ENDPOINT,
    )
    .option('--json', 'print the summary as JSON on stdout')
    .option('--no-progress', 'no progress bar even on a terminal')
    .option('--log-level <level>', 'pino log level for the JSON lines on stderr')
    .action(async (opts: RunCliOptions) => {
      process.exitCode = await runCommand(opts);
    });
}

async function runCommand(opts: RunCliOptions): Promise<number> {
  const tty = Boolean(process.stderr.isTTY) && !opts.json && opts.progress;
  const logger = createLogger({ service: 'cli' }, { level: opts.logLevel ?? (tty ? 'warn' : 'info') });
  let bar: cliProgress.SingleBar | null = null;
  let ticker: NodeJS.Timeout | null = null;
  try {
    // prize files are whole-period: the day range selects nothing among them
    const wholePeriod = opts.format === 'prize' ? { from: '1970-01-01', to: '9999-12-31' } : null;
    const from = opts.from ?? wholePeriod?.from;
    const to = opts.to ?? wholePeriod?.to;
    if (!from || !to) throw new BadInputError(from ? '--to' : '--from', 'is required (YYYY-MM-DD)');
    const request = validateRunRequest({
      systems: parseSystemsOption(opts.systems),
      from,
      to,
      format: opts.format,
    });
    const store = openObjectStore(opts.source, {
      ...(opts.s3Endpoint ? { s3Endpoint: opts.s3Endpoint } : {}),
      ...(opts.s3PathStyle ? { s3ForcePathStyle: true } : {}),
    });
    const sink = openSink(opts.sink, opts.bigqueryEndpoint ? { bigqueryApiEndpoint: opts.bigqueryEndpoint } : {});
    await sink.init();
    let last: RunCounts | null = null;
    if (tty) {
      bar = new cliProgress.SingleBar(
        {
          format:
            ' {bar} {percentage}% | {value}/{total} objects | {readings} readings | {failed} failed | ETA {eta_formatted}',
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
    } else {
      ticker = setInterval(() => {
        if (last) logger.info({ ...last }, 'progress');
      }, 5000);
      ticker.unref();
    }
    try {
      const summary = await runInline({
        request,
        store,
        sink,
        logger,
        concurrency: opts.concurrency,
        ...(opts.threads !== undefined ? { workerThreads: opts.threads } : {}),
        maxObjectBytes: opts.maxObjectMb * 1024 * 1024,
        partBytes: partBytesFromMb(opts.partMb),
        batchRows: opts.batchRows,
        ...(opts.staging ? { stagingDir: opts.staging } : {}),
        onProgress: (c) => {
          last = { ...c };
          if (!bar) return;
          const done = c.skipped + c.loaded + c.failed;
          if (!bar.isActive) bar.start(Math.max(c.planned, 1), done, { readings: 0, failed: 0 });
          bar.setTotal(Math.max(c.planned, 1));
          bar.update(done, { readings: c.readings.toLocaleString('en-US'), failed: c.failed });
        },
      });
      bar?.stop();
      process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
      return summary.counts.failed > 0 ? 2 : 0;
    } finally {
      await sink.close();
      await store.close();
    }
  } catch (err) {
    bar?.stop();
    const reason = err instanceof PipelineError ? err.message : describeError(err);
    logger.error({ err: reason }, 'run failed');
    process.stderr.write(`pv-pipeline run: ${reason}\n`);
    return 1;
  } finally {
    if (ticker) clearInterval(ticker);
  }
}
