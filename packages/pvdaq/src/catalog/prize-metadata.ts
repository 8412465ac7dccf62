import { BadInputError } from '@pv-pipeline/core';

/** What a prize `{id}_system_metadata.json` says, in the shapes the catalog merges. */
export interface PrizeMetadata {
  /** The object it was read from. */
  key: string;
  /** The `System` object, keys in snake_case lower case (`timezone_code`, `public_name`, …). */
  system: Record<string, unknown>;
  /** The `Site` object, likewise. */
  site: Record<string, unknown>;
  /** The first `Mount` entry (`"Mount 0"`), likewise. */
  mount: Record<string, unknown>;
  /** Units by channel name from the `Metrics` object, where it gives any. */
  unitsByName: Map<string, string>;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `"Timezone Code"` / `"timezoneCode"` → `timezone_code`. */
function snake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_|_$/g, '')
    .toLowerCase();
}

function flat(o: unknown): Json {
  if (!isObject(o)) return {};
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) if (!isObject(v) && !Array.isArray(v)) out[snake(k)] = v;
  return out;
}

/** A top-level section by name, whatever its case or spacing (`"Other Instruments"`). */
function section(doc: Json, name: string): unknown {
  const want = snake(name);
  for (const [k, v] of Object.entries(doc)) if (snake(k) === want) return v;
  return undefined;
}

/** The first entry of a keyed group such as `"Mount": {"Mount 0": {…}}`, or the group itself when flat. */
function firstEntry(group: unknown): Json {
  if (!isObject(group)) return {};
  const nested = Object.values(group).find(isObject);
  return nested ? flat(nested) : flat(group);
}

const UNIT_FIELDS = ['units', 'unit', 'raw_units', 'unit_of_measure', 'uom'];

/**
 * Reads a prize `metadata/{id}_system_metadata.json`: the `System`, `Site`
 * and first `Mount` objects (for pv_systems and the time zone:
 * `System.timezone_code`), and units per channel from `Metrics` when its
 * entries carry a units field. Unknown fields are ignored; a file that is not
 * a JSON object is a BadInputError naming the key.
 */
export function readPrizeMetadata(key: string, bytes: Uint8Array): PrizeMetadata {
  let doc: unknown;
  try {
    doc = JSON.parse(
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        .toString('utf8')
        .replace(/^\uFEFF/, ''),
    );
  } catch (err) {
    throw new BadInputError(key, `metadata is not valid JSON: ${(err as Error).message}`, err);
  }
  if (!isObject(doc)) throw new BadInputError(key, 'metadata is not a JSON object');
  const unitsByName = new Map<string, string>();
  const metrics = section(doc, 'Metrics');
  if (isObject(metrics)) {
    for (const [name, entry] of Object.entries(metrics)) {
      const fields = flat(entry);
      const unit = UNIT_FIELDS.map((f) => fields[f]).find((v) => typeof v === 'string' && v.trim() !== '');
      if (typeof unit === 'string') unitsByName.set(name.trim(), unit.trim());
    }
  }
  return {
    key,
    system: flat(section(doc, 'System')),
    site: flat(section(doc, 'Site')),
    mount: firstEntry(section(doc, 'Mount')),
    unitsByName,
  };
}
