import { parseSystemsOption } from '@pv-pipeline/core';
import { publishQualityReport } from '@pv-pipeline/quality';
import { openSink } from '@pv-pipeline/sinks';
import { commandFailed } from './command-failure.js';

/** Options of `pv-pipeline report`, as commander parses them. */
export interface ReportCliOptions {
  sink: string;
  bigqueryEndpoint?: string;
  s3Endpoint?: string;
  out: string;
  systems: string;
  from?: string;
  to?: string;
  memoryLimit: string;
  json?: boolean;
}

/** The action of `pv-pipeline report`: 0 when written, 1 on bad input or failure (one line on stderr). */
export async function reportCommand(opts: ReportCliOptions): Promise<number> {
  try {
    const systems = parseSystemsOption(opts.systems);
    const sink = openSink(opts.sink, {
      ...(opts.bigqueryEndpoint ? { bigqueryApiEndpoint: opts.bigqueryEndpoint } : {}),
      ...(opts.s3Endpoint ? { s3Endpoint: opts.s3Endpoint } : {}),
    });
    await sink.init({ create: false });
    try {
      const json = await publishQualityReport({
        sink,
        out: opts.out,
        request: { systems, ...(opts.from ? { from: opts.from } : {}), ...(opts.to ? { to: opts.to } : {}) },
        memoryLimit: opts.memoryLimit,
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
      else {
        const flags = json.systems.reduce((n, s) => n + s.flags.length, 0);
        process.stdout.write(
          `quality report of ${json.systems.length} system(s), ${json.from} to ${json.to}: ${flags} flag(s); ${opts.out}/index.html\n`,
        );
      }
      return 0;
    } finally {
      await sink.close();
    }
  } catch (err) {
    return commandFailed('report', err);
  }
}
