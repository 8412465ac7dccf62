import type { SensorEntry } from '@pv-pipeline/schema';

/**
 * Makes sensor names unique within a system, so that two channels are never
 * merged under one name: where channels with different metric ids share a
 * name (two inverters' `ac_power`, a dictionary repeating a `sensor_name`),
 * each of them becomes `{name}__{metric_id}`, the PVDAQ column convention;
 * `source_column` keeps what the source calls the channel. Entries that share
 * a metric id and a name are one channel. Deterministic: the result does not
 * depend on the order of the entries.
 */
export function uniqueSensorNames(entries: readonly SensorEntry[]): SensorEntry[] {
  const idsByName = new Map<string, Set<number>>();
  for (const e of entries) {
    let ids = idsByName.get(e.sensor);
    if (!ids) idsByName.set(e.sensor, (ids = new Set()));
    ids.add(e.metric_id);
  }
  return entries.map((e) =>
    (idsByName.get(e.sensor)?.size ?? 0) > 1 ? { ...e, sensor: `${e.sensor}__${e.metric_id}` } : e,
  );
}
