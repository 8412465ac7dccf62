export { COUNTER_FALLS_PER_DAY, chooseAggregations, type ExportSensor } from './aggregation.js';
export { type ExportOptions, type ExportOutcome, exportDataset } from './export-dataset.js';
export type { ExportFile } from './export-files.js';
export { type ExportManifest, readPreviousExport } from './export-manifest.js';
export {
  AGGREGATIONS,
  type Aggregation,
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportRequest,
  type ExportRequestInput,
  INTERVALS,
  type IntervalName,
  parseAggregations,
  parseDuration,
  SPLIT_MODES,
  type SplitMode,
  validateExportRequest,
} from './export-options.js';
export {
  assignSystems,
  SPLITS,
  type SplitName,
  type SplitPlan,
  systemHash,
  type TimeBlocks,
  timeBlocks,
} from './splits.js';
