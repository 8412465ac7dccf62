import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BadInputError } from '@pv-pipeline/core';
import type { TableDef } from '@pv-pipeline/schema';
import { describe, expect, it } from 'vitest';
import { writeTableFile } from '../../src/parquet/table-files.js';
import { memoryEngineFixture } from './memory-engine-fixture.js';

/** A table with a column of every logical type, nullable where it may be. */
const EVERY_TYPE: TableDef = {
  name: 'every_type',
  description: 'a test table',
  key: ['id'],
  columns: [
    { name: 'id', type: 'INT64', nullable: false, description: 'key' },
    { name: 'name', type: 'STRING', nullable: true, description: 'text' },
    { name: 'value', type: 'FLOAT64', nullable: true, description: 'a double' },
    { name: 'flag', type: 'BOOL', nullable: true, description: 'a boolean' },
    { name: 'at', type: 'TIMESTAMP', nullable: true, description: 'an instant' },
    { name: 'day', type: 'DATE', nullable: true, description: 'a day' },
  ],
};

describe('writeTableFile', () => {
  const { work, db } = memoryEngineFixture('pv-table-files-');

  it('writes every row whole, in key order, nulls and all', async () => {
    const { conn } = await db();
    const rows = [
      { id: 2, name: 'b, "quoted"', value: -0.25, flag: false, at: '2020-03-08T09:00:00.000Z', day: '2020-03-08' },
      { id: 1, name: null, value: null, flag: null, at: null, day: null },
      { id: 2 ** 40, name: 'ünïcode', value: 1e-300, flag: true, at: '1999-12-31T23:59:59.999Z', day: '1999-12-31' },
    ];
    const file = join(work, 'every.parquet');
    await writeTableFile(conn, EVERY_TYPE, rows, file, null, file);
    const back = (
      await conn.runAndReadAll(
        `SELECT id, name, value, flag, strftime("at", '%Y-%m-%dT%H:%M:%S.%gZ') AS "at", strftime("day", '%Y-%m-%d') AS "day"
         FROM read_parquet('${file}')`,
      )
    ).getRowObjectsJS();
    expect(back).toEqual([...rows].sort((a, b) => a.id - b.id).map((r) => ({ ...r, id: BigInt(r.id) })));
  });

  it('a value its column cannot hold fails with the table and column named, and leaves no file', async () => {
    const { conn } = await db();
    const file = join(work, 'bad.parquet');
    const bad = writeTableFile(conn, EVERY_TYPE, [{ id: 1.5, name: 'x' }], file, null, file);
    await expect(bad).rejects.toBeInstanceOf(BadInputError);
    await expect(bad).rejects.toThrow('every_type.id');
    const notADay = writeTableFile(conn, EVERY_TYPE, [{ id: 1, day: 'the first of May' }], file, null, file);
    await expect(notADay).rejects.toThrow(/the first of May/);
    expect(existsSync(file)).toBe(false);
    // the connection is still good for the next file
    await writeTableFile(conn, EVERY_TYPE, [{ id: 3 }], file, null, file);
    expect(existsSync(file)).toBe(true);
  });
});
