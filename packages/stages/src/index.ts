export { commitStaged, stagedRef } from './load/commit-staged.js';
export {
  commitOrSplit,
  DEFAULT_BATCH_OBJECTS,
  DEFAULT_BATCH_ROWS,
  LoadBatcher,
  type LoadBatcherOptions,
} from './load/load-batcher.js';
export { type DimensionRefresh, refreshDimensions } from './load/refresh-dimensions.js';
export { assertKnownSystems, unknownSystems } from './plan/known-systems.js';
export { listRunObjects, type Plan, planObjects, splitByLedger } from './plan/plan-objects.js';
export { listPage, type PlanPage, runPages } from './plan/plan-pages.js';
export { DEFAULT_PART_BYTES, partBytesFromMb } from './plan/plan-prize.js';
export type { PlannedObject } from './plan/planned-object.js';
export { listSourceSystems, type SystemListing } from './plan/system-listing.js';
export { DEFAULT_MAX_OBJECT_BYTES, type InlineRunOptions, runInline } from './run/run-inline.js';
export {
  emptyCounts,
  FINISHED_RUN_STATES,
  finishedState,
  isFinished,
  type ObjectFailure,
  RUN_STATES,
  type RunCounts,
  type RunReport,
  type RunState,
  type RunSummary,
  runRowOf,
} from './run/run-report.js';
export {
  type RunRequest,
  runRequestSchema,
  validateRunRequest,
} from './run/run-request.js';
export { openStagingArea, type StagingAccess } from './staging/open-staging-area.js';
export { GCS_XML_ENDPOINT, type GcsAccess, openGcsStagingArea } from './staging/s3-staging-area.js';
export type { StagingArea } from './staging/staging-area.js';
export { DecodePool } from './transform/decode-pool.js';
export { type DecodeRunner, transformObject } from './transform/transform-object.js';
