import type { Logger } from '@pv-pipeline/core';

/** The environment variable of {@link faultPoint}. */
export const FAULT_EXIT_VAR = 'PV_FAULT_EXIT_AT';

/**
 * A test-only crash hook. When `PV_FAULT_EXIT_AT` names a step (e.g. `committed`,
 * one of the loader's steps), the process kills itself with SIGKILL the first
 * time it reaches that step, as a crash would, so that the fault-injection
 * suite (`test/chaos`) can stop the loader between each pair of its steps.
 * Unset (the default, and in every deployment file) it does nothing.
 */
export function faultPoint(env: NodeJS.ProcessEnv, logger: Logger): (step: string) => void {
  const at = env[FAULT_EXIT_VAR];
  if (!at) return () => undefined;
  logger.warn({ [FAULT_EXIT_VAR]: at }, 'fault hook armed: this process will crash at that step');
  return (step) => {
    if (step !== at) return;
    logger.warn({ step }, 'fault hook: crashing (SIGKILL)');
    process.kill(process.pid, 'SIGKILL');
  };
}
