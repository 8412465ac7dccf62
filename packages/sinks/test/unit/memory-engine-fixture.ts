import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { type MemoryEngine, openMemoryEngine } from '../../src/parquet/memory-engine.js';

/**
 * A folder of the suite's own and an in-memory DuckDB (64 MB, 1 thread) started on first use,
 * both gone after the suite.
 */
export function memoryEngineFixture(prefix: string): { work: string; db: () => Promise<MemoryEngine> } {
  const work = mkdtempSync(join(tmpdir(), prefix));
  let engine: MemoryEngine | null = null;
  afterAll(() => {
    engine?.conn.closeSync();
    engine?.instance.closeSync();
    rmSync(work, { recursive: true, force: true });
  });
  return { work, db: async () => (engine ??= await openMemoryEngine({ memoryLimit: '64MB', threads: 1 })) };
}
