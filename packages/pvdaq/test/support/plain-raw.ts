import type { RawReadings } from '../../src/readers/raw-readings.js';

/**
 * Raw readings with every column as a plain array, the drop counts and column
 * names as they are: a copy that no later read into the same buffers can touch.
 */
export const plainRaw = (r: RawReadings) => ({
  ...r,
  measuredOn: Array.from(r.measuredOn),
  utc: r.utc && Array.from(r.utc),
  metricId: Array.from(r.metricId),
  value: Array.from(r.value),
});
