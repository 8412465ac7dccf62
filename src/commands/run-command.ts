import type { Command } from 'commander';
import { addKnobOptions, runKnobs } from './knob-options.js';
import type { RunCliOptions } from './run-action.js';

/** `pv-pipeline run`: the whole pipeline in one process (inline executor). */
export function registerRunCommand(program: Command): void {
  const command = program
    .command('run')
    .description('extract PVDAQ objects for systems × days, normalize them and load the sink');
  addKnobOptions(command, runKnobs()).action(async (opts: RunCliOptions) => {
    // on a terminal the bar shows progress: the log says only what goes wrong, unless asked for more
    const quiet = command.getOptionValueSource('logLevel') === 'default';
    const { runCommand } = await import('./run-action.js');
    process.exitCode = await runCommand(opts, quiet);
  });
}
