export {
  DEFAULT_QUEUE_PREFIX,
  DEFAULT_SINK_URL,
  DEFAULT_SOURCE_URL,
  DEFAULTS,
  KNOBS,
  type Knob,
  type KnobName,
  type KnobReader,
  knobTable,
  loadServiceConfig,
  parseKnob,
  SERVICE_ENV_VARS,
  type ServiceConfig,
} from './config.js';
export { assertDayRange } from './day-range.js';
export { exists, fsyncDir, fsyncFile } from './durable-files.js';
export {
  BadInputError,
  describeError,
  isRetryable,
  PermanentError,
  PipelineError,
  RetryableError,
} from './errors.js';
export { derivedId } from './hash.js';
export { createLogger, type Logger, type LogScope } from './logger.js';
export { mapConcurrent } from './map-concurrent.js';
export {
  addDropped,
  type DroppedCounts,
  noneDropped,
  READING_RULE_IDS,
  type ReadingRuleId,
} from './reading-rule-ids.js';
export { ReplacedDirectory } from './replaced-directory.js';
export { type ColumnArrayKind, type ColumnArrays, grownCapacity, ReusedColumns } from './reused-columns.js';
export { parseSystemsOption } from './systems-option.js';
export type { ObjectInfo, PvdataFormat, SourceFormat, StagedChannel, StagedManifest } from './types.js';
