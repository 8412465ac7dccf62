import {
  BadInputError,
  createLogger,
  describeError,
  type Logger,
  loadServiceConfig,
  type ServiceConfig,
} from '@pv-pipeline/core';

/** A started service role. */
export interface RunningService {
  /** Stops taking work, finishes what is active (bounded by the grace period), closes connections. */
  close(): Promise<void>;
}

/** Starts one role in this process. */
export type ServiceStarter = (config: ServiceConfig, logger: Logger) => Promise<RunningService>;

/**
 * The `main` of a service process: validates the environment (a bad value
 * exits 1 naming the variable), starts the role, stops it on SIGTERM/SIGINT.
 */
export async function runServiceMain(name: string, start: ServiceStarter): Promise<void> {
  let config: ServiceConfig;
  try {
    config = loadServiceConfig(process.env);
  } catch (err) {
    process.stderr.write(`pv-pipeline ${name}: ${err instanceof BadInputError ? err.message : describeError(err)}\n`);
    process.exit(1);
  }
  const logger = createLogger({ service: name, ...placement(process.env) }, { level: config.PV_LOG_LEVEL });
  let service: RunningService;
  try {
    service = await start(config, logger);
  } catch (err) {
    logger.fatal({ err: describeError(err) }, 'start failed');
    process.stderr.write(`pv-pipeline ${name}: ${describeError(err)}\n`);
    process.exit(1);
  }
  logger.info('started');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    const hardStop = setTimeout(() => process.exit(1), config.PV_SHUTDOWN_GRACE_MS + 10_000);
    hardStop.unref();
    await service.close().catch((err) => logger.error({ err: describeError(err) }, 'stop failed'));
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

/** Where a scheduler placed this process (Slurm: node and task), for its log lines; nothing elsewhere. */
function placement(env: NodeJS.ProcessEnv): { node?: string; task?: number } {
  const node = env.SLURMD_NODENAME;
  const task = env.SLURM_PROCID;
  return {
    ...(node ? { node } : {}),
    ...(task !== undefined && /^\d+$/.test(task) ? { task: Number(task) } : {}),
  };
}
