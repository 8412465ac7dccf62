/**
 * The subset of GoogleSQL the sink emits, translated to DuckDB:
 * backticked `project.dataset.table` names → "dataset"."table" (one DuckDB
 * schema per dataset), BEGIN/COMMIT/ROLLBACK TRANSACTION, CURRENT_TIMESTAMP(),
 * named query parameters (scalars, arrays, arrays of structs) as typed
 * literals, `x IN UNNEST(@a)` and `FROM UNNEST(@structs)`. MERGE, DELETE,
 * INSERT … SELECT, CREATE TEMP TABLE and DROP TABLE are DuckDB's own (DuckDB
 * 1.5 has MERGE INTO). Anything else is passed through and fails loudly if
 * DuckDB does not understand it.
 */

/** A REST `QueryParameterType`. */
export interface ParamType {
  type: string;
  arrayType?: ParamType;
  structTypes?: Array<{ name: string; type: ParamType }>;
}

/** A REST `QueryParameterValue`. */
export interface ParamValue {
  value?: string | number | boolean | null;
  arrayValues?: ParamValue[];
  structValues?: Record<string, ParamValue>;
}

/** A REST `QueryParameter`. */
export interface QueryParameter {
  name?: string;
  parameterType: ParamType;
  parameterValue?: ParamValue;
}

/** A query error with BigQuery's reason. */
export class QueryError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** BigQuery type name (either spelling) → DuckDB type. */
export function duckType(bqType: string): string {
  switch (bqType.toUpperCase()) {
    case 'INT64':
    case 'INTEGER':
      return 'BIGINT';
    case 'FLOAT64':
    case 'FLOAT':
      return 'DOUBLE';
    case 'NUMERIC':
      return 'DECIMAL(38,9)';
    case 'STRING':
      return 'VARCHAR';
    case 'BYTES':
      return 'BLOB';
    case 'BOOL':
    case 'BOOLEAN':
      return 'BOOLEAN';
    case 'TIMESTAMP':
      return 'TIMESTAMPTZ';
    case 'DATETIME':
      return 'TIMESTAMP';
    case 'DATE':
      return 'DATE';
    case 'TIME':
      return 'TIME';
    default:
      throw new QueryError('invalid', `Unsupported type ${bqType}`);
  }
}

/** DuckDB column type (as DESCRIBE prints it) → BigQuery legacy type name. */
export function bqTypeOfDuck(duck: string): string {
  const t = duck.toUpperCase();
  if (/^(BIGINT|INTEGER|SMALLINT|TINYINT|HUGEINT|UBIGINT|UINTEGER|USMALLINT|UTINYINT)$/.test(t)) return 'INTEGER';
  if (/^(DOUBLE|FLOAT|REAL)$/.test(t)) return 'FLOAT';
  if (t.startsWith('DECIMAL')) return 'NUMERIC';
  if (t === 'VARCHAR') return 'STRING';
  if (t === 'BLOB') return 'BYTES';
  if (t === 'BOOLEAN') return 'BOOLEAN';
  if (t === 'TIMESTAMP WITH TIME ZONE' || t === 'TIMESTAMPTZ') return 'TIMESTAMP';
  if (t.startsWith('TIMESTAMP')) return 'DATETIME';
  if (t === 'DATE') return 'DATE';
  if (t === 'TIME') return 'TIME';
  return 'STRING';
}

export const quoteIdent = (s: string) => `"${s.replaceAll('"', '""')}"`;
export const quoteString = (s: string) => `'${s.replaceAll("'", "''")}'`;

const TS_TEXT =
  /^(\d{4}-\d{1,2}-\d{1,2})(?:[ T](\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?\s*(Z|UTC|[+-]\d{1,2}(?::?\d{2})?)?$/i;
const DATE_TEXT = /^\d{4}-\d{1,2}-\d{1,2}$/;

/** A TIMESTAMP as text or epoch seconds → text DuckDB casts to TIMESTAMPTZ, or null when unparsable. */
export function normalizeTimestamp(v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v)) {
    const micros = BigInt(Math.round(v * 1e6));
    return `epoch_us:${micros}`;
  }
  if (typeof v !== 'string') return null;
  const m = TS_TEXT.exec(v.trim());
  if (!m) {
    if (/^-?\d+(\.\d+)?$/.test(v.trim())) return normalizeTimestamp(Number(v));
    return null;
  }
  const zone = !m[3] || /^(z|utc)$/i.test(m[3]) ? '+00:00' : m[3];
  return `${m[1]} ${m[2] ?? '00:00:00'}${zone}`;
}

/** A DATETIME as text → text DuckDB casts to TIMESTAMP, or null. */
export function normalizeDatetime(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const m = TS_TEXT.exec(v.trim());
  if (!m || m[3]) return null;
  return `${m[1]} ${m[2] ?? '00:00:00'}`;
}

/** A typed SQL literal for one scalar value of a BigQuery type (null → typed NULL). */
export function literal(type: string, v: unknown, what: string): string {
  const t = type.toUpperCase();
  const duck = duckType(t);
  if (v === null || v === undefined) return `CAST(NULL AS ${duck})`;
  const bad = () => new QueryError('invalidQuery', `Invalid ${t} value for ${what}: ${String(v)}`);
  switch (t) {
    case 'INT64':
    case 'INTEGER': {
      const s = String(v);
      if (!/^[+-]?\d+$/.test(s)) throw bad();
      return `CAST(${BigInt(s)} AS BIGINT)`;
    }
    case 'FLOAT64':
    case 'FLOAT': {
      const s = String(v);
      if (!/^([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|NaN|[+-]?Infinity|[+-]?inf)$/.test(s)) throw bad();
      return `CAST(${quoteString(s)} AS DOUBLE)`;
    }
    case 'BOOL':
    case 'BOOLEAN': {
      const s = String(v).toLowerCase();
      if (s !== 'true' && s !== 'false') throw bad();
      return s.toUpperCase();
    }
    case 'DATE':
      if (!DATE_TEXT.test(String(v))) throw bad();
      return `DATE ${quoteString(String(v))}`;
    case 'TIMESTAMP': {
      const n = normalizeTimestamp(v);
      if (!n) throw bad();
      return n.startsWith('epoch_us:')
        ? `CAST(make_timestamp(${n.slice(9)}) AS TIMESTAMPTZ)`
        : `CAST(${quoteString(n)} AS TIMESTAMPTZ)`;
    }
    case 'DATETIME': {
      const n = normalizeDatetime(v);
      if (!n) throw bad();
      return `CAST(${quoteString(n)} AS TIMESTAMP)`;
    }
    default:
      return `CAST(${quoteString(String(v))} AS ${duck})`;
  }
}

/** The DuckDB type of a parameter type (arrays and structs included). */
function duckParamType(t: ParamType): string {
  if (t.type === 'ARRAY') return `${duckParamType(t.arrayType!)}[]`;
  if (t.type === 'STRUCT') {
    return `STRUCT(${(t.structTypes ?? []).map((f) => `${quoteIdent(f.name)} ${duckParamType(f.type)}`).join(', ')})`;
  }
  return duckType(t.type);
}

/** A parameter value as a DuckDB literal of its type. */
export function paramLiteral(t: ParamType, v: ParamValue | undefined, what: string): string {
  if (t.type === 'ARRAY') {
    const items = (v?.arrayValues ?? []).map((x, i) => paramLiteral(t.arrayType!, x, `${what}[${i}]`));
    return `CAST([${items.join(', ')}] AS ${duckParamType(t)})`;
  }
  if (t.type === 'STRUCT') {
    if (!v?.structValues) return `CAST(NULL AS ${duckParamType(t)})`;
    const fields = (t.structTypes ?? []).map(
      (f) => `${quoteString(f.name)}: ${paramLiteral(f.type, v.structValues?.[f.name], `${what}.${f.name}`)}`,
    );
    return `{${fields.join(', ')}}`;
  }
  return literal(t.type, v?.value, what);
}

/**
 * Splits a script into statements on `;` outside quotes, backticks and
 * comments; drops comments and empty statements.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let cur = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
      continue;
    }
    if (c === '#') {
      while (i < sql.length && sql[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < sql.length && sql[j] !== c) j += sql[j] === '\\' ? 2 : 1;
      cur += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === ';') {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      i++;
      continue;
    }
    cur += c;
    i++;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** Replaces `fn` over the parts of `sql` outside string literals. */
function outsideStrings(sql: string, fn: (part: string) => string): string {
  const parts = sql.split(/('(?:[^'\\]|\\.|'')*')/);
  return parts.map((p, i) => (i % 2 === 1 ? p : fn(p))).join('');
}

/** Translates one GoogleSQL statement to DuckDB. */
export function translateStatement(sql: string, params: ReadonlyMap<string, QueryParameter>): string {
  const lit = (name: string) => {
    const p = params.get(name.toLowerCase());
    if (!p) throw new QueryError('invalidQuery', `Query parameter '${name}' not found`);
    return paramLiteral(p.parameterType, p.parameterValue, `@${name}`);
  };
  const isStructArray = (name: string) => {
    const p = params.get(name.toLowerCase());
    return p?.parameterType.type === 'ARRAY' && p.parameterType.arrayType?.type === 'STRUCT';
  };
  return outsideStrings(sql, (part) => {
    if (/@@\w+/.test(part)) throw new QueryError('invalidQuery', 'System variables are not supported by the fake');
    return part
      .replace(/`([^`]+)`/g, (_m, name: string) => {
        const segs = name.split('.');
        return segs.length >= 2 ? segs.slice(-2).map(quoteIdent).join('.') : quoteIdent(name);
      })
      .replace(/^\s*BEGIN(\s+TRANSACTION)?\s*$/i, 'BEGIN TRANSACTION')
      .replace(/^\s*COMMIT(\s+TRANSACTION)?\s*$/i, 'COMMIT')
      .replace(/^\s*ROLLBACK(\s+TRANSACTION)?\s*$/i, 'ROLLBACK')
      .replace(/\bCURRENT_TIMESTAMP\s*\(\s*\)/gi, 'current_timestamp')
      .replace(
        /\bIN\s+UNNEST\s*\(\s*@(\w+)\s*\)|\bFROM\s+UNNEST\s*\(\s*@(\w+)\s*\)|@(\w+)/gi,
        (_m, inName?: string, fromName?: string, name?: string) => {
          if (inName) return `IN (SELECT unnest(${lit(inName)}))`;
          if (fromName) {
            return isStructArray(fromName)
              ? `FROM (SELECT unnest(${lit(fromName)}, recursive := true))`
              : `FROM (SELECT unnest(${lit(fromName)}) AS f0_)`;
          }
          return lit(name!);
        },
      );
  });
}

/** What kind of statement a (GoogleSQL) statement is, as BigQuery's `statementType`. */
export function statementType(sql: string): string {
  const s = sql.trim().toUpperCase();
  if (s.startsWith('SELECT') || s.startsWith('WITH')) return 'SELECT';
  if (s.startsWith('INSERT')) return 'INSERT';
  if (s.startsWith('DELETE')) return 'DELETE';
  if (s.startsWith('UPDATE')) return 'UPDATE';
  if (s.startsWith('MERGE')) return 'MERGE';
  if (/^CREATE\s+(TEMP|TEMPORARY)\s+TABLE/.test(s)) return 'CREATE_TEMP_TABLE';
  if (s.startsWith('CREATE')) return 'CREATE_TABLE';
  if (s.startsWith('DROP')) return 'DROP_TABLE';
  if (s.startsWith('BEGIN')) return 'BEGIN_TRANSACTION';
  if (s.startsWith('COMMIT')) return 'COMMIT_TRANSACTION';
  if (s.startsWith('ROLLBACK')) return 'ROLLBACK_TRANSACTION';
  return 'UNKNOWN';
}
