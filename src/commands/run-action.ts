import { BadInputError, createLogger, parseSystemsOption } from '@pv-pipeline/core';
import { openObjectStore } from '@pv-pipeline/pvdaq';
import { openSink } from '@pv-pipeline/sinks';
import { partBytesFromMb, type RunCounts, runInline, validateRunRequest } from '@pv-pipeline/stages';
import cliProgress from 'cli-progress';
import { formatSummary } from '../format-summary.js';
import { failureReason } from './command-failure.js';
import { PROGRESS_BAR_FORMAT, RunProgress } from './progress-format.js';

/** Options of `pv-pipeline run`, as commander parses them. */
export interface RunCliOptions {
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
  /** Unset: the sink's (`commitBatchRows`). */
  batchRows?: number;
  s3Endpoint?: string;
  bigqueryEndpoint?: string;
  report?: string;
  json?: boolean;
  progress: boolean;
  logLevel: string;
}

/** The action of `pv-pipeline run` (loaded when the command runs: the CLI starts without the pipeline's modules). */
export async function runCommand(opts: RunCliOptions, quietOnTty: boolean): Promise<number> {
  const tty = Boolean(process.stderr.isTTY) && !opts.json && opts.progress;
  const logger = createLogger({ service: 'cli' }, { level: tty && quietOnTty ? 'warn' : opts.logLevel });
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
    });
    const sink = openSink(opts.sink, {
      ...(opts.bigqueryEndpoint ? { bigqueryApiEndpoint: opts.bigqueryEndpoint } : {}),
      ...(opts.s3Endpoint ? { s3Endpoint: opts.s3Endpoint } : {}),
      // retries are announced as they happen, not only when they run out
      onRetry: (what, attempt, delayMs, reason) =>
        process.stderr.write(
          `pv-pipeline run: ${what}: ${reason}; try ${attempt} in ${(delayMs / 1000).toFixed(1)} s\n`,
        ),
    });
    await sink.init();
    // the run's counts, as it updates them: onProgress is called once planned, per commit and per failure,
    // not per transformed object, so the ticker reads these between calls
    let live: Readonly<RunCounts> | null = null;
    const progress = new RunProgress();
    const draw = () => {
      if (!bar || !live) return;
      const frame = progress.frame(live, performance.now());
      if (!bar.isActive) bar.start(frame.total, frame.value, frame.payload);
      else {
        if (bar.getTotal() !== frame.total) bar.setTotal(frame.total);
        bar.update(frame.value, frame.payload);
      }
    };
    if (tty) {
      bar = new cliProgress.SingleBar(
        { format: PROGRESS_BAR_FORMAT, stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      ticker = setInterval(draw, 250);
    } else {
      ticker = setInterval(() => {
        if (live) logger.info({ ...live }, 'progress');
      }, 5000);
    }
    ticker.unref();
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
        ...(opts.batchRows ? { batchRows: opts.batchRows } : {}),
        ...(opts.staging ? { stagingDir: opts.staging } : {}),
        onProgress: (c) => {
          live = c;
          draw();
        },
      });
      draw(); // the final counts, then the bar stays as the last line on stderr
      bar?.stop();
      process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
      if (opts.report) {
        try {
          const { refreshReportAfterRun } = await import('@pv-pipeline/quality');
          const r = await refreshReportAfterRun(sink, opts.report, summary.runId);
          process.stderr.write(
            r.json
              ? `quality report refreshed for system(s) ${r.systems.join(', ')}: ${opts.report}/index.html\n`
              : `quality report left as it was: the run loaded nothing\n`,
          );
        } catch (err) {
          const reason = failureReason(err);
          process.stderr.write(`pv-pipeline run: the run finished, but its quality report failed: ${reason}\n`);
          return 1;
        }
      }
      return summary.counts.failed > 0 ? 2 : 0;
    } finally {
      await sink.close();
      await store.close();
    }
  } catch (err) {
    bar?.stop();
    const reason = failureReason(err);
    logger.error({ err: reason }, 'run failed');
    process.stderr.write(`pv-pipeline run: ${reason}\n`);
    return 1;
  } finally {
    if (ticker) clearInterval(ticker);
  }
}
