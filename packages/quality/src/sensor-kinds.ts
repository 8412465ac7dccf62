/**
 * What a sensor measures, from its name, its `common_name` and its units:
 * which checks apply to it and which physical limits bound it.
 */
export type SensorKind =
  | 'ac_power'
  | 'dc_power'
  | 'irradiance'
  | 'ambient_temperature'
  | 'module_temperature'
  | 'temperature'
  | 'voltage'
  | 'current'
  | 'frequency'
  | 'energy'
  | 'other';

/** A sensor as the report sees it. */
export interface SensorInfo {
  ss_id: number;
  sensor: string;
  units: string | null;
  common_name: string | null;
  kind: SensorKind;
}

/** Classifies a sensor by its name, common name and units (the dictionary's names are free text). */
export function sensorKind(sensor: string, commonName: string | null, units: string | null): SensorKind {
  const text = `${sensor} ${commonName ?? ''}`.toLowerCase();
  const u = (units ?? '').toLowerCase();
  if (/energy|kwh|_sum\b/.test(text) || /wh$/.test(u)) return 'energy';
  if (/irradiance|\bpoa\b|ghi|dni|dhi|pyranometer|refcell/.test(text) || u === 'w/m^2' || u === 'w/m2') {
    return 'irradiance';
  }
  if (/freq/.test(text) || u === 'hz') return 'frequency';
  if (/temp/.test(text) || u === 'c' || u === 'degc' || u === 'f') {
    if (/ambient|air/.test(text)) return 'ambient_temperature';
    if (/module|panel|back.?sheet|cell/.test(text)) return 'module_temperature';
    return 'temperature';
  }
  if (/volt/.test(text) || u === 'v' || u === 'kv' || u === 'mv') return 'voltage';
  if (/current|amp/.test(text) || u === 'a' || u === 'ma') return 'current';
  if (/power/.test(text) || u === 'w' || u === 'kw' || u === 'mw') {
    if (/\bdc|dc_/.test(text)) return 'dc_power';
    if (/factor|reactive|var/.test(text)) return 'other';
    return 'ac_power';
  }
  return 'other';
}

/** Watts per unit of a power channel's units; null when they are not power units. */
export function wattsPerUnit(units: string | null): number | null {
  switch ((units ?? '').trim().toLowerCase()) {
    case 'w':
      return 1;
    case 'kw':
      return 1000;
    case 'mw':
      return 1_000_000;
    default:
      return null;
  }
}

/**
 * Physical limits of a sensor's values, in its units, outside which a
 * reading is `out_of_range`; null where none apply.
 */
export function physicalLimits(kind: SensorKind, units: string | null): [number, number] | null {
  const u = (units ?? '').toLowerCase();
  switch (kind) {
    case 'irradiance':
      return u === 'mv' ? null : [-20, 1600];
    case 'ambient_temperature':
      return u === 'f' ? null : [-50, 60];
    case 'module_temperature':
    case 'temperature':
      return u === 'f' ? null : [-50, 100];
    case 'frequency':
      return [45, 65];
    case 'voltage':
      return u === 'v' ? [-50, 2000] : null;
    default:
      return null;
  }
}

/**
 * The system's main channel of a kind: the AC power channel the report's
 * heatmap and time-shift check use (plain `ac_power` first, then metered,
 * then any), or the plane-of-array irradiance (then any irradiance).
 */
export function mainChannel(sensors: readonly SensorInfo[], kind: 'ac_power' | 'irradiance'): SensorInfo | null {
  const candidates = sensors.filter((s) => s.kind === kind);
  if (kind === 'irradiance') {
    return candidates.find((s) => /poa/.test(s.sensor.toLowerCase())) ?? candidates[0] ?? null;
  }
  const rank = (s: SensorInfo) => {
    const n = s.sensor.toLowerCase();
    if (/^ac_power(_\d+)?(__\d+)?$/.test(n)) return 0;
    if (/meter/.test(n)) return 1;
    if (/inv/.test(n)) return 3;
    return 2;
  };
  return [...candidates].sort((a, b) => rank(a) - rank(b) || a.sensor.localeCompare(b.sensor))[0] ?? null;
}
