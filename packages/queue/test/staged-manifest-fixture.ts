import type { StagedManifest } from '@pv-pipeline/core';

/** The manifest of object `i` of system 4's 2020-01-01: 10 rows, staged at `s{i}`, nothing dropped. */
export const stagedManifest = (i: number): StagedManifest => ({
  key: `k${i}`,
  etag: `e${i}`,
  ss_id: 4,
  day: '2020-01-01',
  format: 'parquet',
  rows: 10,
  staged: `s${i}`,
  bytes: 100,
  minTimestamp: null,
  maxTimestamp: null,
  dropped: { missing: 0, sentinel: 0, non_finite: 0, duplicate: 0 },
  droppedBySensor: {},
  group: null,
  order: null,
});
