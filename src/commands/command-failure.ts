import { describeError, PipelineError } from '@pv-pipeline/core';

/** What went wrong, in one line: a pipeline error's own message, anything else described. */
export function failureReason(err: unknown): string {
  return err instanceof PipelineError ? err.message : describeError(err);
}

/** Writes `pv-pipeline <command>: <reason>` on stderr and returns exit code 1. */
export function commandFailed(command: string, err: unknown): number {
  process.stderr.write(`pv-pipeline ${command}: ${failureReason(err)}\n`);
  return 1;
}
