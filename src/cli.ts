import { Command } from 'commander';
import { registerExportCommand } from './commands/export-command.js';
import { registerReportCommand } from './commands/report-command.js';
import { registerRunCommand } from './commands/run-command.js';
import { registerRunsCommand } from './commands/runs-command.js';
import { registerServeCommand } from './commands/serve-command.js';
import { registerSystemsCommand } from './commands/systems-command.js';
import { registerVacuumCommand } from './commands/vacuum-command.js';

const program = new Command()
  .name('pv-pipeline')
  .description('NREL PVDAQ (OEDI S3) → long-format star schema → DuckDB, Parquet or BigQuery')
  .showHelpAfterError('(pv-pipeline <command> --help shows the options)')
  .exitOverride((err) => {
    // usage errors: exit 1 with commander's one-line message (already printed)
    process.exit(err.exitCode === 0 ? 0 : 1);
  });

registerRunCommand(program);
registerReportCommand(program);
registerExportCommand(program);
registerSystemsCommand(program);
registerRunsCommand(program);
registerServeCommand(program);
registerVacuumCommand(program);

await program.parseAsync(process.argv);
