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

/** Starts the roles in the order loader, planner, worker, api (the loader warms the ledger cache); stops them in reverse. */
function startRoles(roles: readonly Role[]): ServiceStarter {
  const order = ROLE_NAMES_BY_START.filter((r) => roles.includes(r));
  return async (config, logger) => {
    const started: RunningService[] = [];
    for (const role of order) {
      started.push(await (await starter(role))(config, logger.child({ service: role })));
    }
    return {
      async close() {
        for (const s of started.reverse()) await s.close();
      },
    };
  };
}

/** The start order of the roles. */
const ROLE_NAMES_BY_START = ['loader', 'planner', 'worker', 'api'] as const satisfies readonly Role[];

/** `all`, one role, or a comma-separated list of roles (`api,planner,loader`: a head without workers). */
function parseRoles(v: string): Role[] {
  if (v === 'all') return [...ROLE_NAMES];
  const roles = v.split(',').map((r) => r.trim());
  if (roles.length === 0 || roles.some((r) => !(ROLE_NAMES as readonly string[]).includes(r))) {
    throw new InvalidArgumentError('must be api, planner, worker, loader, all, or a comma-separated list of roles');
  }
  return [...new Set(roles)] as Role[];
}

/** `pv-pipeline serve <role>`: one service of cluster mode, configured from the environment. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(
      'run cluster-mode services: api | planner | worker | loader | all, or a list such as api,planner,loader (configured by environment variables)',
    )
    .argument('<roles>', 'api, planner, worker, loader, all, or a comma-separated list', parseRoles)
    .action(async (roles: Role[], _opts: unknown, command: Command) => {
      const { runServiceMain } = await import('@pv-pipeline/runtime');
      const name = command.args[0] === 'all' || roles.length > 1 ? String(command.args[0]) : roles[0]!;
      await runServiceMain(name, roles.length === 1 ? await starter(roles[0]!) : startRoles(roles));
    });
}
