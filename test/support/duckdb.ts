import { DuckDBInstance } from '@duckdb/node-api';

/** Runs read-only queries against a DuckDB file (or in memory) and returns JS rows (BIGINT as number). */
export async function query(file: string | null, sql: string): Promise<Array<Record<string, unknown>>> {
  const instance = await DuckDBInstance.create(file ?? ':memory:', file ? { access_mode: 'READ_ONLY' } : {});
  const conn = await instance.connect();
  try {
    await conn.run("SET TimeZone = 'UTC'");
    const res = await conn.runAndReadAll(sql);
    return res
      .getRowObjectsJS()
      .map((row) =>
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
      );
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** Runs statements against a writable DuckDB (in memory when file is null), e.g. to build fixtures. */
export async function exec(file: string | null, ...statements: string[]): Promise<void> {
  const instance = await DuckDBInstance.create(file ?? ':memory:');
  const conn = await instance.connect();
  try {
    for (const s of statements) await conn.run(s);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
