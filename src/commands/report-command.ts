import type { Command } from 'commander';
import { addKnobOptions } from './knob-options.js';
import type { ReportCliOptions } from './report-action.js';

/** `pv-pipeline report`: the data-quality report of a warehouse. */
export function registerReportCommand(program: Command): void {
  const command = program
    .command('report')
    .description(
      'data-quality report of a sink: DIR/index.html (+ a page per system), DIR/quality.json, and pv_quality_daily in the sink',
    )
    .requiredOption('--out <dir>', 'report directory (replaced whole)')
    .option('--systems <ids>', 'comma-separated system ids, or all (every system with readings)', 'all')
    .option('--from <day>', 'first local day, YYYY-MM-DD (default: the first day with readings)')
    .option('--to <day>', 'last local day, YYYY-MM-DD, inclusive (default: the last day with readings)')
    .option('--memory-limit <size>', 'DuckDB memory for the report queries (it spills to disk beyond)', '1GB')
    .option('--json', 'print quality.json to stdout');
  addKnobOptions(command, ['sink', 'bigqueryEndpoint', 's3Endpoint']).action(async (opts: ReportCliOptions) => {
    const { reportCommand } = await import('./report-action.js');
    process.exitCode = await reportCommand(opts);
  });
}
