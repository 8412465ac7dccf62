import type { RunningService, ServiceStarter } from '@pv-pipeline/runtime';
import { type Command, InvalidArgumentError } from 'commander';

/** The roles a process can run; `all` runs every one of them in this process. */
const ROLE_NAMES = ['api', 'planner', 'worker', 'loader'] as const;
type Role = (typeof ROLE_NAMES)[number];

/** Loads a role's starter (lazily: `pv-pipeline run` does not load the services). */
async function starter(role: Role): Promise<ServiceStarter> {
  switch (role) {
    case 'api':
      return (await import('@pv-pipeline/api')).startApi;
    case 'planner':
      return (await import('@pv-pipeline/planner')).startPlanner;
    case 'worker':
      return (await import('@pv-pipeline/worker')).startWorker;
    case 'loader':
      return (await import('@pv-pipeline/loader')).startLoader;
  }
}

/** Starts the loader first (it warms the ledger cache), the api last; stops in the reverse order. */
const startAll: ServiceStarter = async (config, logger) => {
  const started: RunningService[] = [];
  for (const role of ['loader', 'planner', 'worker', 'api'] as const) {
    started.push(await (await starter(role))(config, logger.child({ service: role })));
  }
  return {
    async close() {
      for (const s of started.reverse()) await s.close();
    },
  };
};

/** `pv-pipeline serve <role>`: one service of cluster mode, configured from the environment. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(
      'run a cluster-mode service: api | planner | worker | loader | all (configured by environment variables)',
    )
    .argument('<role>', 'api, planner, worker, loader or all', (v) => {
      if (v !== 'all' && !(ROLE_NAMES as readonly string[]).includes(v)) {
        throw new InvalidArgumentError('must be api, planner, worker, loader or all');
      }
      return v;
    })
    .action(async (role: string) => {
      const { runServiceMain } = await import('@pv-pipeline/runtime');
      await runServiceMain(role, role === 'all' ? startAll : await starter(role as Role));
    });
}
