import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

/** An in-memory DuckDB and its connection. */
export interface MemoryEngine {
  instance: DuckDBInstance;
  conn: DuckDBConnection;
}

/** Options of {@link openMemoryEngine}. */
export interface MemoryEngineOptions {
  /** DuckDB `memory_limit`, e.g. `256MB`. */
  memoryLimit: string;
  /** DuckDB threads. @defaultValue DuckDB's own (one per core) */
  threads?: number | undefined;
  /** Where sorts beyond the memory limit spill. @defaultValue DuckDB's own */
  spillDir?: string;
}

/**
 * The in-memory DuckDB the Parquet dataset's code reads and writes files with:
 * its memory limit (spilling to `spillDir` beyond it), its threads, and UTC as
 * the session time zone.
 */
export async function openMemoryEngine(options: MemoryEngineOptions): Promise<MemoryEngine> {
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: options.memoryLimit,
    ...(options.spillDir ? { temp_directory: options.spillDir } : {}),
    ...(options.threads ? { threads: String(options.threads) } : {}),
  });
  try {
    const conn = await instance.connect();
    await conn.run("SET TimeZone = 'UTC'");
    return { instance, conn };
  } catch (err) {
    instance.closeSync();
    throw err;
  }
}
