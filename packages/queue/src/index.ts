export { createCleanupProcessor } from './cleanup-processor.js';
export { faultPoint } from './fault-point.js';
export { DEFAULT_TUNING, defaultJobOptions, type QueueTuning } from './job-options.js';
export {
  type CleanupJobData,
  JOB_NAMES,
  type LoadJobData,
  type PlanJobData,
  type TransformJobData,
} from './job-payloads.js';
export { LedgerCache } from './ledger-cache.js';
export { LOADER_STEPS, type LoaderStep, LoadProcessor, type LoadProcessorDeps } from './load-processor.js';
export {
  addMetrics,
  countStalledJobs,
  FAILURE_REASONS,
  type FailureReason,
  type MetricField,
} from './pipeline-metrics.js';
export { createPlanProcessor, type PlanJobResult, type PlanProcessorDeps } from './plan-processor.js';
export { DEFAULT_PREFIX, QUEUE_NAMES, type QueueName } from './queue-names.js';
export { addFresh, allQueues, openQueues, type PipelineQueues, upstreamIdle } from './queues.js';
export { createRedisConnection } from './redis-connection.js';
export { type Cancellation, cancelRun } from './run-cancellation.js';
export { createFinalizeRevival, enqueueFinalize, FINALIZE_REVIVALS, finalizeUnrecorded } from './run-finalization.js';
export { type ObjectOutcome, type OutcomeDetail, type RunRecord, type RunRetry, RunStore } from './run-store.js';
export { loadJobId, transformJobId } from './transform-job-id.js';
export {
  createStalledOutListener,
  createTransformProcessor,
  type FailedObject,
  type StalledObject,
  type TransformProcessorDeps,
  transformJobObject,
} from './transform-processor.js';
export { loadWorkerConcurrency, tuningFrom, workerOptions } from './worker-options.js';
