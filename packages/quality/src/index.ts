export { appendRows, DUCKDB_MACROS } from './buckets.js';
export { type PublishOptions, publishQualityReport } from './publish.js';
export {
  FLAG_KINDS,
  type FlagKind,
  type QualityFlag,
  type QualityJson,
  type SensorQuality,
  type SystemQuality,
} from './quality-json.js';
export { type RefreshOutcome, refreshReportAfterRun } from './refresh.js';
export {
  type Availability,
  computeQualityReport,
  type Heatmap,
  QualityReport,
  type QualityReportOptions,
  type SystemDetail,
} from './report.js';
export { readQualityJson } from './report-dir.js';
export {
  type QualityRequest,
  type ReportScope,
  resolveScope,
  type SensorScope,
  type SystemScope,
  standardOffsetMinutes,
} from './scope.js';
export { mainChannel, type SensorKind, sensorKind, wattsPerUnit } from './sensor-kinds.js';
export { type Site, type SunDay, type SunPosition, sunDay, sunPosition } from './solar.js';
