import { parseSystemsOption } from '@pv-pipeline/core';
import {
  type ExportFormat,
  exportDataset,
  type IntervalName,
  parseAggregations,
  parseDuration,
  type SplitMode,
  validateExportRequest,
} from '@pv-pipeline/datasets';
import { openSink } from '@pv-pipeline/sinks';
import { commandFailed } from './command-failure.js';

/** Options of `pv-pipeline export`, as commander parses them. */
export interface ExportCliOptions {
  sink: string;
  bigqueryEndpoint?: string;
  s3Endpoint?: string;
  out: string;
  interval: string;
  systems: string;
  from?: string;
  to?: string;
  split: string;
  valid: string;
  test: string;
  embargo: string;
  seed: string;
  dropFlagged?: boolean;
  agg?: string;
  format: string;
  memoryLimit: string;
  json?: boolean;
}

/** A share option as a number; anything else stays NaN for validation to name. */
const share = (v: string) => (/^\s*\d*\.?\d+\s*$/.test(v) ? Number(v) : Number.NaN);

/** The action of `pv-pipeline export`: 0 when written, 1 on bad input or failure (one line on stderr). */
export async function exportCommand(opts: ExportCliOptions): Promise<number> {
  try {
    const request = validateExportRequest({
      interval: opts.interval as IntervalName,
      systems: parseSystemsOption(opts.systems),
      ...(opts.from ? { from: opts.from } : {}),
      ...(opts.to ? { to: opts.to } : {}),
      split: opts.split as SplitMode,
      valid: share(opts.valid),
      test: share(opts.test),
      embargoS: parseDuration(opts.embargo, '--embargo'),
      seed: opts.seed,
      dropFlagged: opts.dropFlagged ?? false,
      format: opts.format as ExportFormat,
      aggregations: opts.agg ? parseAggregations(opts.agg) : {},
    });
    const sink = openSink(opts.sink, {
      ...(opts.bigqueryEndpoint ? { bigqueryApiEndpoint: opts.bigqueryEndpoint } : {}),
      ...(opts.s3Endpoint ? { s3Endpoint: opts.s3Endpoint } : {}),
    });
    await sink.init({ create: false });
    try {
      const { manifest, rewritten, kept } = await exportDataset({
        sink,
        out: opts.out,
        request,
        memoryLimit: opts.memoryLimit,
        onProgress: (line) => process.stderr.write(`${line}\n`),
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
      else {
        const r = manifest.rows;
        process.stdout.write(
          `exported ${manifest.systems.length} system(s) at ${manifest.interval}, ${manifest.from} to ${manifest.to}: train ${r.train}, valid ${r.valid}, test ${r.test} rows; ` +
            `${rewritten.length} system(s) written${kept.length > 0 ? `, ${kept.length} unchanged and kept (${kept.join(', ')})` : ''}; ${opts.out}/manifest.json\n`,
        );
      }
      return 0;
    } finally {
      await sink.close();
    }
  } catch (err) {
    return commandFailed('export', err);
  }
}
