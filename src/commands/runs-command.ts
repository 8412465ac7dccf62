import { type Command, Option } from 'commander';
import type { RunsCancelOptions, RunsTriggerOptions } from './runs-action.js';

/**
 * `pv-pipeline runs trigger`: a run of a deployment, triggered through its API
 * and followed to its end; `pv-pipeline runs cancel ID` cancels one.
 */
export function registerRunsCommand(program: Command): void {
  const runs = program.command('runs').description('runs of a cluster deployment, through its API');
  runs
    .command('trigger')
    .description(
      'trigger a run (POST /api/runs); with --wait follow it to its end, print its record as `run --json` does, and exit as `run` does (0 completed, 2 partial, 1 failed)',
    )
    .requiredOption('--api <url>', 'the API, e.g. http://head-node:8080')
    .addOption(new Option('--token <token>', 'the API token').env('PV_API_TOKEN').makeOptionMandatory())
    .option('--systems <ids>', 'comma-separated system ids, or all', 'all')
    .option('--from <day>', 'first day, YYYY-MM-DD')
    .option('--to <day>', 'last day, YYYY-MM-DD, inclusive')
    .option('--format <format>', 'parquet, csv or prize', 'parquet')
    .option('--wait', 'follow the run to its end (progress on stderr)')
    .option('--json', 'print the run record as JSON')
    .action(async (opts: RunsTriggerOptions) => {
      const { runsTrigger } = await import('./runs-action.js');
      process.exitCode = await runsTrigger(opts);
    });
  runs
    .command('cancel')
    .description(
      'cancel a queued or running run (DELETE /api/runs/:id): its queued jobs are removed; what it loaded stays loaded',
    )
    .argument('<id>', 'the run id')
    .requiredOption('--api <url>', 'the API, e.g. http://head-node:8080')
    .addOption(new Option('--token <token>', 'the API token').env('PV_API_TOKEN').makeOptionMandatory())
    .option('--json', 'print the cancelled run record as JSON')
    .action(async (id: string, opts: RunsCancelOptions) => {
      const { runsCancel } = await import('./runs-action.js');
      process.exitCode = await runsCancel(id, opts);
    });
}
