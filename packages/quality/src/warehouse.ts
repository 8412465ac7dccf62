/**
 * The light part of the quality package, for derived work that reads the
 * warehouse as the report does (the ML export): the scope of systems and
 * sensors, sensor kinds, solar position and the engine helpers, without the
 * report's checks and pages.
 */
export { appendRows, DUCKDB_MACROS } from './buckets.js';
export { type ReportScope, resolveScope, type SensorScope, type SystemScope, standardOffsetMinutes } from './scope.js';
export { mainChannel, type SensorKind, sensorKind, wattsPerUnit } from './sensor-kinds.js';
export { type Site, type SunPosition, sunPosition } from './solar.js';
