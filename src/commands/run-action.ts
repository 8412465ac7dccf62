import { BadInputError, createLogger, describeError, PipelineError, parseSystemsOption } from '@pv-pipeline/core';
import { openObjectStore } from '@pv-pipeline/pvdaq';
import { openSink } from '@pv-pipeline/sinks';
import { partBytesFromMb, type RunCounts, runInline, validateRunRequest } from '@pv-pipeline/stages';
import cliProgress from 'cli-progress';
import { formatSummary } from '../format-summary.js';

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
  batchRows: number;
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
          const reason = err instanceof PipelineError ? err.message : describeError(err);
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
    const reason = err instanceof PipelineError ? err.message : describeError(err);
    logger.error({ err: reason }, 'run failed');
    process.stderr.write(`pv-pipeline run: ${reason}\n`);
    return 1;
  } finally {
    if (ticker) clearInterval(ticker);
  }
}
