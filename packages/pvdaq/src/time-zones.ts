/**
 * The time-zone rules alone (`@pv-pipeline/pvdaq/time-zones`): what derived
 * work (the quality report) needs of this package, without its readers and
 * object stores and their libraries.
 */
export { parseTimeZone, type TimeZoneSpec, UTC_ZONE } from './catalog/time-zone.js';
export { ZoneClock } from './rules/local-time.js';
