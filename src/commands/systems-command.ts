import type { Command } from 'commander';
import { addKnobOptions } from './knob-options.js';
import type { SystemsCliOptions } from './systems-action.js';

/** `pv-pipeline systems`: the systems a source knows. */
export function registerSystemsCommand(program: Command): void {
  const command = program
    .command('systems')
    .description('the systems of a source: name, zone, location, capacity, first/last day, formats with data, channels')
    .option('--json', 'print them as JSON (as GET /api/systems)');
  addKnobOptions(command, ['source', 's3Endpoint']).action(async (opts: SystemsCliOptions) => {
    const { systemsCommand } = await import('./systems-action.js');
    process.exitCode = await systemsCommand(opts);
  });
}
