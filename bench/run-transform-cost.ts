/**
 * `npm run bench:transform`: what one daily Parquet object's transform costs, measured before
 * choosing issue #19's first candidate (a DuckDB-native transform in the worker).
 *
 *   npm run bench:transform -- [--repeat N] [--no-write]
 *
 * On the objects of the bench mirror whose rows all carry `utc_measured_on` (the only ones an
 * SQL path could take without the file-order local-time rule), one object after another, in
 * this process, CPU seconds (medians of `--repeat`, default 3):
 * - **pipeline**: read the file, decode, the reading rules, encode and write the staged Parquet
 *   file: `decodeReadings`, what a worker does per object;
 * - **DuckDB SQL, 1 thread**: the same work as two statements per object, a statistics query
 *   (the dropped counts by rule and channel, the rows without UTC, the time range) and a `COPY`
 *   of the rows the rules keep, joined to the channels, deduplicated (the last in file order
 *   per instant and channel), to a staged Parquet file. It leaves out what the pipeline also
 *   does (per-channel duplicate counts, the checks on ids and the time range), so it is a
 *   lower bound on an SQL path's cost;
 * - two floors of DuckDB's own: reading every column of the object, and copying it as it is
 *   to a Parquet file.
 *
 * Both paths' staged rows are checked equal (every column, `EXCEPT ALL` both ways), and their
 * dropped counts. Writes the section "transform-cost" of bench/RESULTS.md.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import type { StagedChannel } from '@pv-pipeline/core';
import { openObjectStore, parsePvdataKey, SENTINELS, SystemCatalog, zoneSourcesOf } from '@pv-pipeline/pvdaq';
import { type DecodeTask, decodeReadings } from '../packages/stages/src/transform/decode-readings.js';
import { BENCH_DIR, ensureMirror, FULL_PARAMS, lit, mirrorDir } from './generate-mirror.js';
import { benchCommit, cpuSecondsOf, median, nodeRuntime } from './measure.js';
import { writeResultsSection } from './results-section.js';

const { values } = parseArgs({
  options: {
    repeat: { type: 'string', default: '3' },
    'no-write': { type: 'boolean', default: false },
  },
});
const repeat = Number(values.repeat);
if (!(repeat >= 1)) throw new Error(`--repeat: "${values.repeat}" is not a positive number`);

const load = loadavg()[0]!;
const mirror = mirrorDir(false);
await ensureMirror(mirror, FULL_PARAMS, (s) => console.log(s));
const out = join(BENCH_DIR, 'out', 'transform-cost');
rmSync(out, { recursive: true, force: true });
for (const dir of ['js', 'idx', 'sql', 'raw']) mkdirSync(join(out, dir), { recursive: true });

const store = openObjectStore(`file://${mirror}`);
const catalog = await SystemCatalog.load(store);
const objects: Array<DecodeTask & { path: string }> = [];
for await (const info of store.listObjects('parquet/pvdata/')) {
  const parsed = parsePvdataKey(info.key);
  objects.push({
    key: info.key,
    etag: info.etag,
    format: 'parquet',
    ssId: parsed.ssId,
    day: parsed.day,
    bytes: new Uint8Array(0),
    dictionary: await catalog.channels(parsed.ssId),
    zone: await catalog.zoneOf(parsed.ssId),
    zoneSources: zoneSourcesOf(parsed.ssId),
    path: join(mirror, info.key),
  });
}

const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const conn = await db.connect();
const rowsOf = async (sql: string) => (await conn.runAndReadAll(sql)).getRowsJS();
const parquet = (path: string, extra = '') => `read_parquet(${lit(path)}, hive_partitioning = false${extra})`;
await conn.run(`SET TimeZone = 'UTC'`);
await conn.run('CREATE TABLE channels (ss_id INTEGER, metric_id INTEGER, sensor VARCHAR, units VARCHAR)');
const channelRows = [...new Set(objects.map((o) => o.dictionary))].flatMap((d) =>
  d.entries.map((e) => `(${d.ssId}, ${e.metric_id}, ${lit(e.sensor)}, ${e.units === null ? 'NULL' : lit(e.units)})`),
);
await conn.run(`INSERT INTO channels VALUES ${channelRows.join(', ')}`);

// the objects an SQL path could take: every row has its UTC instant
const withUtc = new Set(
  (
    await rowsOf(`SELECT filename FROM read_parquet(${lit(join(mirror, 'parquet/pvdata/**/*.parquet'))},
      filename = true, hive_partitioning = false) GROUP BY filename HAVING count(*) = count(utc_measured_on)`)
  ).map((r) => String(r[0])),
);
const taken = objects.filter((o) => withUtc.has(o.path));
if (taken.length === 0)
  throw new Error(`no object of ${mirror} has UTC on every row (or none was matched by its path)`);
console.log(`${taken.length} of ${objects.length} objects have UTC on every row`);

const sentinels = SENTINELS.join(', ');
const dropped = (v: string) => `${v} IS NULL OR isnan(${v}) OR isinf(${v}) OR ${v} IN (${sentinels})`;

/** Rows staged, readings dropped by the value rules (missing, sentinel, non-finite) and as duplicates. */
interface Counts {
  rows: number;
  byValue: number;
  duplicate: number;
}

/** The pipeline's transform of each object, its staged file written as the inline run does. */
async function pipelineOnce(): Promise<Counts> {
  const c: Counts = { rows: 0, byValue: 0, duplicate: 0 };
  for (const [i, o] of taken.entries()) {
    const { manifest, file } = await decodeReadings({ ...o, bytes: readFileSync(o.path) });
    if (file) await writeFile(join(out, 'js', `${i}.parquet`), file);
    const d = manifest.dropped;
    c.rows += manifest.rows;
    c.byValue += d.missing + d.sentinel + d.non_finite;
    c.duplicate += d.duplicate;
  }
  return c;
}

/**
 * The pipeline's transform as it stages for a DuckDB sink: the same rows without text (each row's
 * channel a position in the manifest's list), and that list kept to compare the rows afterwards.
 */
async function pipelineWithoutTextOnce(): Promise<Counts> {
  const c: Counts = { rows: 0, byValue: 0, duplicate: 0 };
  channelLists.length = 0;
  for (const [i, o] of taken.entries()) {
    const { manifest, file } = await decodeReadings({ ...o, bytes: readFileSync(o.path), channelIndex: true });
    if (file) await writeFile(join(out, 'idx', `${i}.parquet`), file);
    channelLists.push(manifest.channels ?? []);
    const d = manifest.dropped;
    c.rows += manifest.rows;
    c.byValue += d.missing + d.sentinel + d.non_finite;
    c.duplicate += d.duplicate;
  }
  return c;
}
/** The manifests' lists of channels of the last run without text, by object. */
const channelLists: StagedChannel[][] = [];

/** The same in DuckDB SQL: a statistics query, then a COPY of the kept rows. */
async function sqlOnce(): Promise<Counts> {
  const c: Counts = { rows: 0, byValue: 0, duplicate: 0 };
  for (const [i, o] of taken.entries()) {
    const src = parquet(o.path, ', file_row_number = true');
    const stats = await rowsOf(`SELECT metric_id, count(*),
        count(*) FILTER (WHERE value IS NULL OR isnan(value)), count(*) FILTER (WHERE isinf(value)),
        count(*) FILTER (WHERE value IN (${sentinels})), count(*) FILTER (WHERE utc_measured_on IS NULL),
        min(file_row_number), min(utc_measured_on), max(utc_measured_on)
      FROM ${src} GROUP BY metric_id`);
    const read = stats.reduce((s, r) => s + Number(r[1]), 0);
    const byValue = stats.reduce((s, r) => s + Number(r[2]) + Number(r[3]) + Number(r[4]), 0);
    const copied = await rowsOf(`COPY (
        SELECT ${o.ssId}::INTEGER AS ss_id, CAST(r.utc_measured_on AS TIMESTAMPTZ) AS timestamp, r.measured_on,
          c.sensor, r.metric_id, c.units, r.value
        FROM ${src} r JOIN channels c ON c.ss_id = ${o.ssId} AND c.metric_id = r.metric_id
        WHERE NOT (${dropped('r.value')})
        QUALIFY row_number() OVER (PARTITION BY r.utc_measured_on, r.metric_id ORDER BY r.file_row_number DESC) = 1
        ORDER BY r.file_row_number
      ) TO ${lit(join(out, 'sql', `${i}.parquet`))} (FORMAT parquet, COMPRESSION lz4_raw)`);
    const kept = Number(copied[0]?.[0] ?? 0);
    c.rows += kept;
    c.byValue += byValue;
    // the duplicates: rows that passed the value rules but were not written
    c.duplicate += read - byValue - kept;
  }
  return c;
}

/** DuckDB reading every column of each object. */
async function readOnce(): Promise<void> {
  for (const o of taken) {
    await rowsOf(
      `SELECT count(measured_on), count(utc_measured_on), sum(metric_id), sum(value) FROM ${parquet(o.path)}`,
    );
  }
}

/** DuckDB copying each object as it is to a Parquet file. */
async function copyOnce(): Promise<void> {
  for (const [i, o] of taken.entries()) {
    await conn.run(
      `COPY (SELECT * FROM ${parquet(o.path)}) TO ${lit(join(out, 'raw', `${i}.parquet`))} (FORMAT parquet, COMPRESSION lz4_raw)`,
    );
  }
}

const phases = ['pipeline', 'withoutText', 'sql', 'read', 'copy'] as const;
const cpu: Record<(typeof phases)[number], number[]> = { pipeline: [], withoutText: [], sql: [], read: [], copy: [] };
let pipelineCounts: Counts = { rows: 0, byValue: 0, duplicate: 0 };
let withoutTextCounts: Counts = { rows: 0, byValue: 0, duplicate: 0 };
let sqlCounts: Counts = { rows: 0, byValue: 0, duplicate: 0 };
// the page cache warmed, the JIT and DuckDB's first statements, before the first measure
await pipelineOnce();
await pipelineWithoutTextOnce();
await sqlOnce();
for (let i = 0; i < repeat; i++) {
  cpu.pipeline.push(await cpuSecondsOf(async () => void (pipelineCounts = await pipelineOnce())));
  cpu.withoutText.push(await cpuSecondsOf(async () => void (withoutTextCounts = await pipelineWithoutTextOnce())));
  cpu.sql.push(await cpuSecondsOf(async () => void (sqlCounts = await sqlOnce())));
  cpu.read.push(await cpuSecondsOf(readOnce));
  cpu.copy.push(await cpuSecondsOf(copyOnce));
  console.log(`run ${i + 1}/${repeat}: ${phases.map((p) => `${p} ${cpu[p].at(-1)!.toFixed(2)} CPU s`).join(', ')}`);
}

// both paths staged the same rows, every column
const cols = 'ss_id::BIGINT, timestamp, measured_on, sensor::VARCHAR, metric_id::BIGINT, units::VARCHAR, value';
const side = (dir: string) => `SELECT ${cols} FROM read_parquet(${lit(join(out, dir, '*.parquet'))})`;
const onlyJs = Number((await rowsOf(`SELECT count(*) FROM (${side('js')} EXCEPT ALL ${side('sql')})`))[0]![0]);
const onlySql = Number((await rowsOf(`SELECT count(*) FROM (${side('sql')} EXCEPT ALL ${side('js')})`))[0]![0]);
// the files without text, their positions resolved through each manifest's list, hold the same rows
const positions = channelLists.flatMap((list, i) =>
  list.map(
    (ch, at) =>
      `(${lit(join(out, 'idx', `${i}.parquet`))}, ${at}, ${lit(ch.sensor)}, ${ch.metric_id}, ${ch.units === null ? 'NULL' : lit(ch.units)}::VARCHAR)`,
  ),
);
const resolved = `SELECT r.ss_id::BIGINT, r.timestamp, r.measured_on, p.sensor, p.metric_id::BIGINT, p.units, r.value
  FROM read_parquet(${lit(join(out, 'idx', '*.parquet'))}, filename = true) r
  JOIN (VALUES ${positions.join(', ')}) p(file, channel, sensor, metric_id, units) ON p.file = r.filename AND p.channel = r.channel`;
const onlyIdx = Number((await rowsOf(`SELECT count(*) FROM (${resolved} EXCEPT ALL ${side('js')})`))[0]![0]);
const onlyJsIdx = Number((await rowsOf(`SELECT count(*) FROM (${side('js')} EXCEPT ALL ${resolved})`))[0]![0]);
const same =
  onlyJs === 0 &&
  onlySql === 0 &&
  onlyIdx === 0 &&
  onlyJsIdx === 0 &&
  JSON.stringify(pipelineCounts) === JSON.stringify(sqlCounts) &&
  JSON.stringify(withoutTextCounts) === JSON.stringify(pipelineCounts);
conn.closeSync();
db.closeSync();
rmSync(out, { recursive: true, force: true });
if (!same) {
  throw new Error(
    `the paths disagree: ${onlyJs} rows only in the pipeline's files, ${onlySql} only in DuckDB's, ${onlyIdx} only and ${onlyJsIdx} not in the files without text; counts ${JSON.stringify(pipelineCounts)} vs ${JSON.stringify(sqlCounts)} vs ${JSON.stringify(withoutTextCounts)}`,
  );
}

const m = Object.fromEntries(phases.map((p) => [p, median(cpu[p])])) as Record<(typeof phases)[number], number>;
const perObject = (s: number) => ((1000 * s) / taken.length).toFixed(2);
const row = (name: string, s: number) =>
  `| ${name} | ${s.toFixed(2)} | ${perObject(s)} | ${(s / m.pipeline).toFixed(2)} |`;
const body = `## One daily Parquet object's transform: the pipeline vs DuckDB SQL (\`npm run bench:transform\`)

Latest run, written by \`bench/run-transform-cost.ts\`, at commit ${benchCommit()}, load average ${load.toFixed(2)} at the start,
${nodeRuntime()}: the ${taken.length} objects of the bench mirror (of ${objects.length}) whose rows all carry
\`utc_measured_on\`, one after another, CPU seconds of the whole process (DuckDB on 1 thread), medians of ${repeat}.
Every path staged the same ${pipelineCounts.rows.toLocaleString('en-US')} rows (every column compared; the files without text
through their manifests' channel lists) and dropped the same
readings: ${pipelineCounts.byValue.toLocaleString('en-US')} by the value rules, ${pipelineCounts.duplicate.toLocaleString('en-US')} duplicates.

| per object | CPU s | ms per object | / pipeline |
|---|---:|---:|---:|
${row('pipeline: read, decode, rules, encode and write the staged file with the names (`decodeReadings`, as for the Parquet and BigQuery sinks)', m.pipeline)}
${row('pipeline: the same, the staged file without text (channel positions, as for a DuckDB sink)', m.withoutText)}
${row('DuckDB SQL: statistics query + `COPY` of the kept rows (rules, channel join, dedup) to a staged file', m.sql)}
${row('floor: DuckDB reading every column of the object', m.read)}
${row('floor: DuckDB copying the object as it is to a Parquet file', m.copy)}

Reproduce: \`npm run bench:transform\` (\`--repeat N\`, \`--no-write\`).
`;
console.log(body);
if (!values['no-write']) writeResultsSection(join(BENCH_DIR, 'RESULTS.md'), 'transform-cost', body);
