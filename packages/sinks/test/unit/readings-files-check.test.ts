import { join } from 'node:path';
import { BadInputError, type StagedManifest } from '@pv-pipeline/core';
import { duckdbType, PV_READINGS } from '@pv-pipeline/schema';
import { describe, expect, it } from 'vitest';
import { checkReadingsFiles } from '../../src/parquet/readings-file.js';
import { sqlString } from '../../src/sql-literal.js';
import { memoryEngineFixture } from './memory-engine-fixture.js';

describe('checkReadingsFiles', () => {
  const { work, db } = memoryEngineFixture('pv-readings-check-');

  /** A readings file of `rows` rows in row groups of `groupRows`, with pv_readings' columns. */
  async function readingsFile(name: string, rows: number, groupRows: number): Promise<string> {
    const { conn } = await db();
    const file = join(work, name);
    const cols = PV_READINGS.columns.map((c) => `CAST(NULL AS ${duckdbType(c.type)}) AS "${c.name}"`).join(', ');
    await conn.run(
      `COPY (SELECT ${cols} FROM range(${rows})) TO ${sqlString(file)} (FORMAT parquet, ROW_GROUP_SIZE ${groupRows})`,
    );
    return file;
  }
  const manifest = (key: string, rows: number) => ({ key, rows }) as StagedManifest;

  it("counts every row group's rows, and refuses a count that differs, naming the object", async () => {
    const { conn } = await db();
    const many = await readingsFile('many-groups.parquet', 5000, 2048);
    const one = await readingsFile('one-group.parquet', 7, 2048);
    await checkReadingsFiles(conn, [
      { m: manifest('a', 5000), staged: many },
      { m: manifest('b', 7), staged: one },
    ]);
    await expect(
      checkReadingsFiles(conn, [
        { m: manifest('a', 5000), staged: many },
        { m: manifest('b', 8), staged: one },
      ]),
    ).rejects.toThrow(new BadInputError('b', `staged file ${one} has 7 rows, its manifest says 8`));
  });

  it('checks a file without row groups on its own: its rows are 0', async () => {
    const { conn } = await db();
    const empty = await readingsFile('no-groups.parquet', 0, 2048);
    const one = await readingsFile('one-more.parquet', 3, 2048);
    await expect(
      checkReadingsFiles(conn, [
        { m: manifest('a', 3), staged: one },
        { m: manifest('e', 1), staged: empty },
      ]),
    ).rejects.toThrow(new BadInputError('e', `staged file ${empty} has 0 rows, its manifest says 1`));
  });

  it('refuses a file whose columns are not pv_readings', async () => {
    const { conn } = await db();
    const file = join(work, 'other-columns.parquet');
    await conn.run(`COPY (SELECT 1 AS ss_id, 2 AS value) TO ${sqlString(file)} (FORMAT parquet)`);
    await expect(checkReadingsFiles(conn, [{ m: manifest('o', 1), staged: file }])).rejects.toThrow(
      /^o: staged file .*other-columns\.parquet has the columns ss_id, value, not pv_readings'/,
    );
  });
});
