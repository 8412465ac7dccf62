import type { Command } from 'commander';
import type { ExportCliOptions } from './export-action.js';
import { addKnobOptions } from './knob-options.js';

/** `pv-pipeline export`: ML-ready training sets from a warehouse. */
export function registerExportCommand(program: Command): void {
  const command = program
    .command('export')
    .description(
      'ML-ready training sets of a sink: a UTC grid per system, sensors as columns with reading counts, solar and time features, leakage-safe splits; DIR/data/split=*/ss_id=*/part-0.parquet + manifest.json + README.md',
    )
    .requiredOption('--out <dir>', 'export directory (replaced whole; must be empty, absent or an earlier export)')
    .requiredOption('--interval <interval>', 'bucket width: 1m, 5m, 15m or 1h')
    .option('--systems <ids>', 'comma-separated system ids, or all (every system with readings)', 'all')
    .option('--from <day>', 'first local day, YYYY-MM-DD (default: the first day with readings)')
    .option('--to <day>', 'last local day, YYYY-MM-DD, inclusive (default: the last day with readings)')
    .option('--split <mode>', 'time (contiguous blocks), system (held out by seeded hash) or both', 'time')
    .option('--valid <share>', 'share of the span (or of the systems) for validation', '0.1')
    .option('--test <share>', 'share of the span (or of the systems) for test', '0.1')
    .option('--embargo <duration>', 'dropped after each time boundary: 0, 30m, 12h, 1d, 2w', '1d')
    .option('--seed <seed>', 'seed of the system hash', '0')
    .option(
      '--drop-flagged',
      "readings of sensor-days the quality report flagged become missing (needs pv-pipeline report's table)",
    )
    .option('--agg <overrides>', 'aggregations by sensor, e.g. ac_energy=last,poa_irradiance=mean (mean, last, sum)')
    .option('--format <format>', 'parquet or arrow (Arrow IPC files)', 'parquet')
    .option('--memory-limit <size>', 'DuckDB memory for the export queries (it spills to disk beyond)', '1GB')
    .option('--json', 'print manifest.json to stdout');
  addKnobOptions(command, ['sink', 'bigqueryEndpoint', 's3Endpoint']).action(async (opts: ExportCliOptions) => {
    const { exportCommand } = await import('./export-action.js');
    process.exitCode = await exportCommand(opts);
  });
}
