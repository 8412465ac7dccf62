/**
 * `npm run bench:store`: what DuckDB spends storing each column of the rows the pipeline
 * loaded, one thread, so that a per-core target can be set against what storing the rows
 * costs at all. Reads `bench/out/pipeline-parquet.duckdb` (left by `npm run bench`).
 *
 *   npm run bench:store -- [--db FILE] [--repeat N] [--no-write]
 *
 * For each column of `pv_readings`, for all of them at once, and for the rows as the DuckDB
 * sink stores them (`pv_reading_rows`): `CREATE TABLE … AS SELECT <column> FROM` a temp copy
 * of the rows, then CHECKPOINT, in a fresh database with
 * `threads = 1`; CPU seconds of this process (medians of `--repeat`, default 3). Writes
 * the section "storage-cost" of bench/RESULTS.md.
 */
import { existsSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { PV_READINGS, quoteIdent } from '@pv-pipeline/schema';
import { BENCH_DIR, lit } from './generate-mirror.js';
import { benchCommit, cpuSecondsOf, median } from './measure.js';
import { writeResultsSection } from './results-section.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: join(BENCH_DIR, 'out', 'pipeline-parquet.duckdb') },
    repeat: { type: 'string', default: '3' },
    'no-write': { type: 'boolean', default: false },
  },
});
const repeat = Number(values.repeat);
if (!(repeat >= 1)) throw new Error(`--repeat: "${values.repeat}" is not a positive number`);
if (!existsSync(values.db)) throw new Error(`${values.db} does not exist: run \`npm run bench\` first`);

const load = loadavg()[0]!;
const work = join(BENCH_DIR, 'out', 'store-cost.duckdb');
for (const suffix of ['', '.wal']) rmSync(`${work}${suffix}`, { force: true });
const db = await DuckDBInstance.create(work, { threads: '1' });
const conn = await db.connect();
const cpu = (sql: string) =>
  cpuSecondsOf(async () => {
    await conn.run(sql);
    await conn.run('CHECKPOINT');
  });
const rows: Array<[string, number, string]> = [];
try {
  await conn.run(`ATTACH ${lit(values.db)} AS loaded (READ_ONLY)`);
  // the rows in memory first, so that every measure below pays for storing only
  await conn.run('CREATE TEMP TABLE r AS SELECT * FROM loaded.pv_readings');
  // and as the sink stores them: channel and object numbered (readings-storage.ts)
  await conn.run('CREATE TEMP TABLE s AS SELECT * FROM loaded.pv_reading_rows');
  const n = Number((await conn.runAndReadAll('SELECT count(*) FROM r')).getRowsJS()[0]?.[0] ?? 0);
  const targets = [
    ...PV_READINGS.columns.map((c) => [c.name, c.type, quoteIdent(c.name), 'r'] as const),
    ['all columns', '', '*', 'r'] as const,
    ['as the sink stores them (`pv_reading_rows`)', '', '*', 's'] as const,
  ];
  for (const [name, type, select, from] of targets) {
    const times: number[] = [];
    for (let i = 0; i < repeat; i++) {
      times.push(await cpu(`CREATE OR REPLACE TABLE t AS SELECT ${select} FROM ${from}`));
      await conn.run('DROP TABLE t');
    }
    rows.push([name, median(times), type]);
    console.log(`${name.padEnd(12)} ${median(times).toFixed(2)} CPU s`);
  }
  const asStored = rows.pop()!;
  const all = rows.at(-1)![1];
  const commit = benchCommit();
  const body = `## What storing the loaded rows costs DuckDB, by column (\`npm run bench:store\`)

Latest run, written by \`bench/run-store-cost.ts\`, at commit ${commit}, load average ${load.toFixed(2)} at the start:
the ${n.toLocaleString('en-US')} rows \`npm run bench\` loaded from daily Parquet, stored by DuckDB (1 thread) from a temp
table into a table of their own, one column at a time and all at once, as \`pv_readings\` shows them (text in every row), then
as the DuckDB sink stores them (CPU seconds, medians of ${repeat}).

| column | type | CPU s | share of all columns |
|---|---|---:|---:|
${rows
  .slice(0, -1)
  .map(([c, s, t]) => `| \`${c}\` | ${t} | ${s.toFixed(2)} | ${((100 * s) / all).toFixed(0)} % |`)
  .join('\n')}
| all columns | | **${all.toFixed(2)}** | |
| ${asStored[0]}: the same rows, \`sensor\`/\`metric_id\`/\`units\` as an INTEGER \`channel_id\`, \`source_key\` as an INTEGER \`object_id\` | | **${asStored[1].toFixed(2)}** | ${((100 * asStored[1]) / all).toFixed(0)} % |
`;
  console.log(body);
  if (!values['no-write']) writeResultsSection(join(BENCH_DIR, 'RESULTS.md'), 'storage-cost', body);
} finally {
  conn.closeSync();
  db.closeSync();
  for (const suffix of ['', '.wal']) rmSync(`${work}${suffix}`, { force: true });
}
