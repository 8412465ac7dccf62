import { normalizeDatetime, normalizeTimestamp } from './googlesql.js';

/** A field of a table schema. */
export interface SchemaField {
  name: string;
  type: string;
  mode?: string;
  description?: string;
}

/** One error of one row, as insertAll reports it. */
export interface RowError {
  reason: string;
  location: string;
  message: string;
}

/** A row checked against a schema: its values ready for DuckDB, or its errors. */
export type CheckedRow = { ok: true; values: unknown[] } | { ok: false; errors: RowError[] };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Checks one JSON row against a table schema the way insertAll does:
 * unknown fields (`no such field`) unless `ignoreUnknownValues`, a REQUIRED
 * field missing or null (`Missing required field`), and values that do not
 * convert to the column type. Values come back in schema order, converted to
 * text or numbers that DuckDB casts to the column type.
 */
export function checkRow(
  json: unknown,
  fields: readonly SchemaField[],
  options: { ignoreUnknownValues?: boolean } = {},
): CheckedRow {
  const errors: RowError[] = [];
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { ok: false, errors: [{ reason: 'invalid', location: '', message: 'Row is not a JSON object.' }] };
  }
  const row = json as Record<string, unknown>;
  const known = new Set(fields.map((f) => f.name.toLowerCase()));
  if (!options.ignoreUnknownValues) {
    for (const k of Object.keys(row)) {
      if (!known.has(k.toLowerCase())) errors.push({ reason: 'invalid', location: k, message: `no such field: ${k}.` });
    }
  }
  const lower = new Map(Object.entries(row).map(([k, v]) => [k.toLowerCase(), v]));
  const values = fields.map((f) => {
    const v = lower.get(f.name.toLowerCase());
    if (v === null || v === undefined) {
      if ((f.mode ?? 'NULLABLE').toUpperCase() === 'REQUIRED') {
        errors.push({ reason: 'invalid', location: f.name, message: `Missing required field: ${f.name}.` });
      }
      return null;
    }
    const converted = convert(f.type, v);
    if (converted === undefined) {
      errors.push({
        reason: 'invalid',
        location: f.name,
        message: `Cannot convert value to ${f.type.toLowerCase()} (bad value): ${JSON.stringify(v)} in field ${f.name}.`,
      });
    }
    return converted ?? null;
  });
  return errors.length ? { ok: false, errors } : { ok: true, values };
}

/** One JSON value → what DuckDB casts to the column type, or undefined when it does not convert. */
function convert(type: string, v: unknown): unknown {
  switch (type.toUpperCase()) {
    case 'INTEGER':
    case 'INT64': {
      const s = typeof v === 'number' ? (Number.isInteger(v) ? BigInt(v).toString() : '') : String(v);
      if (typeof v !== 'number' && typeof v !== 'string') return undefined;
      if (!/^[+-]?\d+$/.test(s)) return undefined;
      const n = BigInt(s);
      return n < INT64_MIN || n > INT64_MAX ? undefined : n.toString();
    }
    case 'FLOAT':
    case 'FLOAT64':
      if (typeof v === 'number') return v;
      if (typeof v === 'string' && /^([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|NaN|[+-]?Infinity)$/.test(v)) return v;
      return undefined;
    case 'STRING':
      return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
    case 'BOOLEAN':
    case 'BOOL':
      if (typeof v === 'boolean') return v;
      if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
      return undefined;
    case 'TIMESTAMP': {
      const n = normalizeTimestamp(v);
      if (!n) return undefined;
      if (n.startsWith('epoch_us:')) {
        const micros = BigInt(n.slice(9));
        return new Date(Number(micros / 1000n)).toISOString().replace('Z', '+00:00');
      }
      return n;
    }
    case 'DATETIME':
      return normalizeDatetime(v) ?? undefined;
    case 'DATE':
      return typeof v === 'string' && /^\d{4}-\d{1,2}-\d{1,2}$/.test(v) ? v : undefined;
    default:
      return typeof v === 'string' ? v : undefined;
  }
}
