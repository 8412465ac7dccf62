/**
 * Named query parameters in the REST shape (`QueryParameter`), built here
 * rather than by the client: its converter drops string values of DATE and
 * TIMESTAMP parameters, and the sink wants exact control over NULLs.
 */

/** Scalar parameter types the sink uses (GoogleSQL names). */
export type ParamType = 'STRING' | 'INT64' | 'FLOAT64' | 'BOOL' | 'DATE' | 'TIMESTAMP' | 'DATETIME';

/** A `QueryParameterType`. */
export interface QueryParameterType {
  type: string;
  arrayType?: QueryParameterType;
  structTypes?: Array<{ name: string; type: QueryParameterType }>;
}

/** A `QueryParameterValue`; a missing `value` is NULL. */
export interface QueryParameterValue {
  value?: string;
  arrayValues?: QueryParameterValue[];
  structValues?: Record<string, QueryParameterValue>;
}

/** A `QueryParameter`. */
export interface QueryParameter {
  name: string;
  parameterType: QueryParameterType;
  parameterValue: QueryParameterValue;
}

/** Logical schema type → parameter type. */
export const PARAM_TYPE_OF: Record<string, ParamType> = {
  INT64: 'INT64',
  FLOAT64: 'FLOAT64',
  STRING: 'STRING',
  TIMESTAMP: 'TIMESTAMP',
  DATETIME: 'DATETIME',
  DATE: 'DATE',
  BOOL: 'BOOL',
};

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Epoch microseconds → `YYYY-MM-DD HH:MM:SS.ffffff+00:00` (a TIMESTAMP literal BigQuery and DuckDB both parse). */
export function timestampFromMicros(micros: bigint | string | number): string {
  const us = BigInt(micros);
  let ms = us / 1000n;
  let rest = us % 1000000n;
  if (rest < 0n) {
    rest += 1000000n;
    ms -= 1000n;
  }
  const d = new Date(Number((ms / 1000n) * 1000n));
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(Number(rest), 6)}+00:00`;
}

/** A JS value → the string form of a scalar parameter value (null stays null). */
export function paramValue(type: ParamType, v: unknown): string | null {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'INT64':
      if (typeof v === 'bigint') return v.toString();
      if (typeof v === 'number' && Number.isInteger(v)) return String(v);
      if (typeof v === 'string' && /^-?\d+$/.test(v)) return v;
      throw new TypeError(`${String(v)} is not an INT64`);
    case 'FLOAT64':
      if (typeof v !== 'number') throw new TypeError(`${String(v)} is not a FLOAT64`);
      return Number.isNaN(v) ? 'NaN' : v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : String(v);
    case 'BOOL':
      return v ? 'true' : 'false';
    case 'TIMESTAMP': {
      if (typeof v === 'bigint') return timestampFromMicros(v); // epoch µs
      if (v instanceof Date) return timestampFromMicros(BigInt(v.getTime()) * 1000n);
      const ms = Date.parse(String(v));
      if (Number.isNaN(ms)) throw new TypeError(`${String(v)} is not a TIMESTAMP`);
      // keep sub-millisecond digits of an ISO string: re-derive from its fraction
      const frac = /\.(\d{1,6})/.exec(String(v))?.[1] ?? '';
      const micros = BigInt(Math.floor(ms / 1000)) * 1000000n + BigInt(frac.padEnd(6, '0') || '0');
      return timestampFromMicros(micros);
    }
    default:
      return String(v);
  }
}

/** A scalar parameter. */
export function scalarParam(name: string, type: ParamType, v: unknown): QueryParameter {
  const value = paramValue(type, v);
  return { name, parameterType: { type }, parameterValue: value === null ? {} : { value } };
}

/** An ARRAY<type> parameter (elements must not be null). */
export function arrayParam(name: string, type: ParamType, values: readonly unknown[]): QueryParameter {
  return {
    name,
    parameterType: { type: 'ARRAY', arrayType: { type } },
    parameterValue: { arrayValues: values.map((v) => ({ value: paramValue(type, v)! })) },
  };
}

/** An ARRAY<STRUCT<…>> parameter: one struct per row, fields in `fields` order, NULLs kept. */
export function structArrayParam(
  name: string,
  fields: ReadonlyArray<{ name: string; type: ParamType }>,
  rows: ReadonlyArray<Record<string, unknown>>,
): QueryParameter {
  return {
    name,
    parameterType: {
      type: 'ARRAY',
      arrayType: { type: 'STRUCT', structTypes: fields.map((f) => ({ name: f.name, type: { type: f.type } })) },
    },
    parameterValue: {
      arrayValues: rows.map((row) => ({
        structValues: Object.fromEntries(
          fields.map((f) => {
            const value = paramValue(f.type, row[f.name]);
            return [f.name, value === null ? {} : { value }];
          }),
        ),
      })),
    },
  };
}
