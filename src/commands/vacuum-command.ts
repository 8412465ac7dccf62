import type { Command } from 'commander';
import { addKnobOptions } from './knob-options.js';
import type { VacuumCliOptions } from './vacuum-action.js';

/** `pv-pipeline vacuum`: deletes the files of a dataset on object storage that no ledger row references. */
export function registerVacuumCommand(program: Command): void {
  const command = program
    .command('vacuum')
    .description(
      'delete the readings files of a parquet+s3:// dataset that its ledger no longer references (left by crashes, failed batches and replaced objects)',
    )
    .option(
      '--older-than <age>',
      'only files older than this: a younger one may belong to a batch still on its way (e.g. 30m, 24h, 7d; 0 when nothing runs)',
      '24h',
    )
    .option('--dry-run', 'list what would be deleted, delete nothing')
    .option('--json', 'print the result as JSON');
  addKnobOptions(command, ['sink', 's3Endpoint']).action(async (opts: VacuumCliOptions) => {
    const { vacuumCommand } = await import('./vacuum-action.js');
    process.exitCode = await vacuumCommand(opts);
  });
}
