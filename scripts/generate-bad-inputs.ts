/**
 * Writes the hostile-input corpus `test/fixtures/bad/`: one small file per case
 * and the manifest `cases.json` (key in a file:// mirror, the reason its failure
 * must give, or the rows a valid-but-awkward input must load).
 *
 *   npx tsx scripts/generate-bad-inputs.ts        (npm run fixtures:bad)
 *
 * Parquet variants are derived with DuckDB from a good sample object; text is
 * written byte for byte here (BOM, CRLF, quotes). The 10 MB line, the object
 * over the size limit and the symlink out of the root are made by the test at
 * run time (`runtime`), never committed.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../test/support/duckdb.js';
import { CORPUS_DIR, type CorpusCase, type CorpusManifest, type CorpusRow } from '../test/support/hostile-corpus.js';

const FILES = join(CORPUS_DIR, 'files');
const GOOD_PARQUET_KEY =
  'parquet/pvdata/system_id=4/year=2015/month=6/day=1/system_4__date_2015_06_01.snappy.000.parquet';
const GOOD_PARQUET = `samples/pvdaq/${GOOD_PARQUET_KEY}`;
const GOOD_DICTIONARY = 'samples/pvdaq/parquet/metrics/metrics__system_4__part000.parquet';

/** Key of system `ss`'s object for 2015-06-`d` (June 2015 has no sample objects beyond day 7). */
function dayKey(format: 'parquet' | 'csv', d: number, ss = 4, fileName?: string): string {
  const dd = String(d).padStart(2, '0');
  const name = fileName ?? `system_${ss}__date_2015_06_${dd}${format === 'parquet' ? '.snappy.000.parquet' : '.csv'}`;
  return `${format}/pvdata/system_id=${ss}/year=2015/month=6/day=${d}/${name}`;
}
const metricsKey = (ss: number) => `parquet/metrics/metrics__system_${ss}__part000.parquet`;

/** A good wide CSV of system 4 for 2015-06-`d` (three readings of module_temp_1, metric 321). */
const goodCsv = (d: number, eol = '\n') => {
  const dd = String(d).padStart(2, '0');
  return [
    'measured_on,module_temp_1__321,system_id',
    ...[21.5, 22.25, 23].map((v, i) => `2015-06-${dd} 00:${String(i * 15).padStart(2, '0')}:00,${v},4`),
    '',
  ].join(eol);
};
const goodRows = (d: number): CorpusRow[] =>
  [21.5, 22.25, 23].map((value, i) => ({
    measured_on: `2015-06-${String(d).padStart(2, '0')} 00:${String(i * 15).padStart(2, '0')}:00`,
    sensor: 'module_temp_1',
    value,
  }));

rmSync(FILES, { recursive: true, force: true });
mkdirSync(FILES, { recursive: true });
const cases: CorpusCase[] = [];
const pending: Array<Promise<void> | void> = [];

/** A committed case: `bytes` is written to files/<id>.<ext>; `sql` derives it with DuckDB from the good Parquet (as `good`). */
function add(
  c: Omit<CorpusCase, 'files'> & { files?: CorpusCase['files'] },
  content?: { bytes?: Buffer | string; sql?: string; ext?: string },
): void {
  const files = [...(c.files ?? [])];
  if (content) {
    const fixture = `files/${c.id}.${content.ext ?? (c.format === 'parquet' ? 'parquet' : 'csv')}`;
    const out = join(CORPUS_DIR, fixture);
    if (content.bytes !== undefined) writeFileSync(out, content.bytes);
    else if (content.sql) {
      pending.push(
        exec(
          null,
          `CREATE VIEW good AS SELECT measured_on, utc_measured_on, metric_id, value FROM read_parquet('${GOOD_PARQUET}', hive_partitioning = false)`,
          `COPY (${content.sql}) TO '${out}' (FORMAT parquet)`,
        ),
      );
    }
    files.unshift({ key: c.key, fixture });
  }
  cases.push({ ...c, files });
}

// ───────────── Parquet objects (the `--format parquet` run) ─────────────
const good = readFileSync(GOOD_PARQUET);
let d = 10;
const pq = (id: string, title: string, reason: string, content: { bytes?: Buffer | string; sql?: string }) =>
  add({ id, title, format: 'parquet', key: dayKey('parquet', d++), reason }, content);

const smashed = Buffer.from(good);
smashed.fill(0xff, smashed.length - 200, smashed.length - 8); // footer metadata garbage, both PAR1 magics kept
pq('parquet-corrupt-footer', 'Parquet footer overwritten (magic intact)', 'corrupt Parquet', { bytes: smashed });
pq('parquet-truncated', 'Parquet cut in half', 'not a Parquet file \\(no PAR1 magic', {
  bytes: good.subarray(0, good.length >> 1),
});
pq('parquet-zero-byte', 'zero-byte .parquet object', 'empty object \\(0 bytes\\)', { bytes: '' });
pq('parquet-is-csv', 'CSV text in a .parquet object', 'not a Parquet file', { bytes: goodCsv(1) });
pq('parquet-magic-only', 'PAR1 magic around 8 junk bytes', 'corrupt Parquet', {
  bytes: 'PAR1\x00\x01\x02\x03\x04\x05\x06\x07PAR1',
});
pq('parquet-wrong-schema', 'Parquet without metric_id/value columns', 'Parquet schema lacks metric_id, value', {
  sql: 'SELECT measured_on, value AS reading FROM good',
});
pq('parquet-unknown-metric', 'a metric id not in the dictionary', 'metric id 9999 not in the metrics dictionary', {
  sql: 'SELECT measured_on, utc_measured_on, CASE WHEN row_number() OVER () = 5 THEN 9999 ELSE metric_id END AS metric_id, value FROM good',
});
pq('parquet-metric-id-text', 'metric_id stored as text "abc"', 'metric_id "abc" is not a number', {
  sql: `SELECT measured_on, utc_measured_on, CASE WHEN row_number() OVER () = 3 THEN 'abc' ELSE CAST(metric_id AS VARCHAR) END AS metric_id, value FROM good`,
});
pq('parquet-metric-id-fraction', 'fractional metric_id 321.5', 'metric_id 321.5 is not an integer', {
  sql: 'SELECT measured_on, utc_measured_on, CASE WHEN row_number() OVER () = 7 THEN 321.5 ELSE metric_id END::DOUBLE AS metric_id, value FROM good',
});
pq('parquet-value-text', 'non-numeric value "warm" in a text column', 'value "warm" is not a number', {
  sql: `SELECT measured_on, utc_measured_on, metric_id, CASE WHEN row_number() OVER () = 9 THEN 'warm' ELSE CAST(value AS VARCHAR) END AS value FROM good`,
});
pq('parquet-value-bool', 'value column of booleans', 'value has type Bool, expected a number', {
  sql: 'SELECT measured_on, utc_measured_on, metric_id, value > 30 AS value FROM good',
});
pq('parquet-time-text', 'unparseable measured_on text', 'measured_on "yesterday noon" is not a timestamp', {
  sql: `SELECT CASE WHEN row_number() OVER () = 2 THEN 'yesterday noon' ELSE strftime(measured_on, '%Y-%m-%d %H:%M:%S') END AS measured_on, metric_id, value FROM good`,
});
pq('parquet-time-integer', 'measured_on as a plain integer', 'measured_on has type Int64, expected a timestamp', {
  sql: 'SELECT epoch(measured_on)::BIGINT AS measured_on, metric_id, value FROM good',
});
pq('parquet-time-null', 'a null measured_on', 'measured_on is null', {
  sql: 'SELECT CASE WHEN row_number() OVER () = 4 THEN NULL ELSE measured_on END AS measured_on, utc_measured_on, metric_id, value FROM good',
});
pq('parquet-time-2150', 'measured_on in 2150', 'outside 1970\\.\\.2100', {
  sql: `SELECT CASE WHEN row_number() OVER () = 6 THEN TIMESTAMP '2150-06-16 00:00:00' ELSE measured_on END AS measured_on, utc_measured_on, metric_id, value FROM good`,
});
pq('parquet-time-1965', 'measured_on in 1965', 'outside 1970\\.\\.2100', {
  sql: `SELECT CASE WHEN row_number() OVER () = 6 THEN TIMESTAMP '1965-06-17 00:00:00' ELSE measured_on END AS measured_on, utc_measured_on, metric_id, value FROM good`,
});
pq('parquet-utc-2200', 'utc_measured_on in 2200', 'outside 1970\\.\\.2100', {
  sql: `SELECT measured_on, CASE WHEN row_number() OVER () = 8 THEN TIMESTAMP '2200-01-01 00:00:00' ELSE measured_on + INTERVAL 7 HOUR END AS utc_measured_on, metric_id, value FROM good`,
});

// keys outside the layout (the bytes are a good object)
const layout = (id: string, title: string, key: string, reason: string) =>
  add({ id, title, format: 'parquet', key, reason, files: [{ key, copy: GOOD_PARQUET }] });
layout(
  'layout-foreign-name',
  'a file name outside the layout (notes.parquet)',
  dayKey('parquet', 27, 4, 'notes.parquet'),
  'key outside the PVDAQ layout',
);
layout(
  'layout-date-mismatch',
  'file name date disagrees with its folders',
  dayKey('parquet', 28, 4, 'system_4__date_2015_06_29.snappy.000.parquet'),
  'disagrees with its year/month/day folders',
);
layout(
  'layout-system-mismatch',
  'file name system disagrees with its folder',
  dayKey('parquet', 29, 4, 'system_5__date_2015_06_29.snappy.000.parquet'),
  'file name names system 5 but the folder is system_id=4',
);
layout(
  'layout-no-such-date',
  'a date that does not exist (June 31)',
  dayKey('parquet', 31, 4),
  'no such date 2015-6-31',
);
layout(
  'layout-wrong-extension',
  'a .csv file under parquet/',
  dayKey('parquet', 30, 4, 'system_4__date_2015_06_30.csv'),
  'a parquet pvdata key must end in \\.parquet',
);
layout(
  'layout-extra-folder',
  'an extra folder level below day=',
  'parquet/pvdata/system_id=4/year=2015/month=6/day=26/extra/system_4__date_2015_06_26.snappy.000.parquet',
  'key outside the PVDAQ layout',
);

// metrics dictionaries, one system each (the pvdata object itself is good)
const dict = (
  id: string,
  title: string,
  ss: number,
  reason: string,
  content?: { bytes?: Buffer | string; sql?: string },
) => {
  const key = dayKey('parquet', 1, ss, `system_${ss}__date_2015_06_01.snappy.000.parquet`);
  const files: CorpusCase['files'] = [{ key, copy: GOOD_PARQUET }];
  if (content) {
    const fixture = `files/${id}.parquet`;
    const out = join(CORPUS_DIR, fixture);
    if (content.bytes !== undefined) writeFileSync(out, content.bytes);
    else
      pending.push(
        exec(
          null,
          `CREATE VIEW dict AS SELECT * FROM read_parquet('${GOOD_DICTIONARY}')`,
          `COPY (${content.sql}) TO '${out}' (FORMAT parquet)`,
        ),
      );
    files.push({ key: metricsKey(ss), fixture });
  }
  cases.push({ id, title, format: 'parquet', key, reason, files });
};
dict('dictionary-missing', 'no metrics dictionary for the system', 77, 'metrics dictionary of system 77 not found');
dict(
  'dictionary-corrupt',
  'metrics dictionary cut in half',
  78,
  'metrics__system_78__part000\\.parquet: not a Parquet file',
  {
    bytes: readFileSync(GOOD_DICTIONARY).subarray(0, 300),
  },
);
dict(
  'dictionary-no-sensor-name',
  'metrics dictionary without sensor_name',
  79,
  'metrics dictionary lacks column sensor_name',
  {
    sql: 'SELECT system_id, metric_id, units FROM dict',
  },
);
dict('dictionary-no-rows', 'metrics dictionary with no rows', 80, 'metrics dictionary has no rows', {
  sql: 'SELECT * FROM dict WHERE false',
});
dict(
  'dictionary-zero-byte',
  'zero-byte metrics dictionary',
  81,
  'metrics__system_81__part000\\.parquet: empty object',
  {
    bytes: '',
  },
);
dict('dictionary-bad-metric-id', 'metrics dictionary with metric_id "x"', 82, 'metric_id x is not an integer', {
  sql: `SELECT system_id, CASE WHEN metric_id = 321 THEN 'x' ELSE CAST(metric_id AS VARCHAR) END AS metric_id, sensor_name, units FROM dict`,
});

add({
  id: 'parquet-over-limit',
  title: `a .parquet object over the size limit (runtime)`,
  format: 'parquet',
  key: dayKey('parquet', 8),
  runtime: 'over-limit',
  reason: 'larger than the limit of 16777216 bytes',
});
add(
  {
    id: 'parquet-zero-rows',
    title: 'valid Parquet with no rows (loads nothing)',
    format: 'parquet',
    key: dayKey('parquet', 9),
    rows: [],
  },
  { sql: 'SELECT * FROM good WHERE false' },
);

// ───────────── CSV objects (the `--format csv` run) ─────────────
d = 10;
const csv = (id: string, title: string, reason: string, bytes: Buffer | string) =>
  add({ id, title, format: 'csv', key: dayKey('csv', d++), reason }, { bytes });
const hdr = 'measured_on,module_temp_1__321,system_id';

csv('csv-zero-byte', 'zero-byte .csv object', 'empty object \\(0 bytes\\)', '');
csv(
  'csv-unterminated-quote',
  'a quote that never closes',
  'malformed CSV: .*[Qq]uote',
  `${hdr}\n2015-06-11 00:00:00,"21.5,4\n2015-06-11 00:15:00,22,4\n`,
);
csv(
  'csv-ragged-row',
  'a row with an extra cell',
  'malformed CSV: Invalid Record Length',
  `${hdr}\n2015-06-12 00:00:00,21.5,4\n2015-06-12 00:15:00,22,4,9\n`,
);
csv(
  'csv-non-numeric',
  'non-numeric cell "warm"',
  'line 3, column "module_temp_1__321": "warm" is not a number',
  `${hdr}\n2015-06-13 00:00:00,21.5,4\n2015-06-13 00:15:00,warm,4\n`,
);
csv(
  'csv-no-metric-ids',
  'header without metric ids',
  'CSV header has no metric ids',
  'measured_on,module_temp_1,system_id\n2015-06-14 00:00:00,21.5,4\n',
);
csv(
  'csv-unknown-metric',
  'a column whose metric id is not in the dictionary',
  'metric id 9999 \\(foo__9999\\) not in the metrics dictionary',
  `measured_on,module_temp_1__321,foo__9999,system_id\n2015-06-15 00:00:00,21.5,3,4\n`,
);
csv(
  'csv-duplicate-header',
  'the same header twice',
  'duplicate column for metric_id 321',
  'measured_on,module_temp_1__321,module_temp_1__321,system_id\n2015-06-16 00:00:00,21.5,21.6,4\n',
);
csv(
  'csv-duplicate-metric',
  'two headers naming one metric id',
  'duplicate column for metric_id 321 \\("module_temp_1__321" and "temp__321"\\)',
  'measured_on,module_temp_1__321,temp__321,system_id\n2015-06-17 00:00:00,21.5,21.6,4\n',
);
csv(
  'csv-no-time-column',
  'no measured_on column',
  'CSV header has no measured_on column',
  'module_temp_1__321,system_id\n21.5,4\n',
);
csv(
  'csv-bad-timestamp',
  'unparseable timestamp',
  'line 3: measured_on "half past nine" is not a timestamp',
  `${hdr}\n2015-06-19 00:00:00,21.5,4\nhalf past nine,22,4\n`,
);
csv(
  'csv-impossible-date',
  'a timestamp on June 31',
  'line 2: measured_on "2015-06-31 00:00:00" is not a timestamp',
  `${hdr}\n2015-06-31 00:00:00,21.5,4\n`,
);
csv(
  'csv-time-2150',
  'a timestamp in 2150',
  'outside 1970\\.\\.2100',
  `${hdr}\n2015-06-21 00:00:00,21.5,4\n2150-06-21 00:15:00,22,4\n`,
);
csv('csv-time-1901', 'a timestamp in 1901', 'outside 1970\\.\\.2100', `${hdr}\n1901-06-22 00:00:00,21.5,4\n`);
csv(
  'csv-system-mismatch',
  'system_id column disagrees with the key',
  'line 2: system_id 5 disagrees with system_id=4',
  `${hdr}\n2015-06-23 00:00:00,21.5,5\n`,
);
csv(
  'csv-binary',
  'binary bytes (a gzip stream) in a .csv object',
  'CSV header has no measured_on column \\(header: \\\\x1f\\\\ufffd',
  Buffer.from('1f8b0800000000000003f34dcccc4b2c4e55c8cc2b51484a4cc90500a5a9b3c214000000', 'hex'),
);
csv(
  'csv-invalid-utf8',
  'invalid UTF-8 in a sensor cell',
  '"2\\\\ufffd\\\\ufffd\\\\ufffd" is not a number',
  Buffer.concat([Buffer.from(`${hdr}\n2015-06-25 00:00:00,2`), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from(',4\n')]),
);
csv(
  'csv-nul-bytes',
  'NUL bytes in a sensor cell',
  '"21\\\\x00\\\\x005" is not a number',
  `${hdr}\n2015-06-26 00:00:00,21\x00\x005,4\n`,
);
csv(
  'csv-header-only-bad-name',
  'only a header, whose time column has another name',
  'CSV header has no measured_on column',
  'when,module_temp_1__321\n',
);
add({
  id: 'csv-ten-mb-line',
  title: 'one 10 MiB line (runtime)',
  format: 'csv',
  key: dayKey('csv', 8),
  runtime: 'ten-mb-line',
  reason: 'malformed CSV: Max Record Size: .* 1000000',
});
add({
  id: 'csv-over-limit',
  title: 'a .csv object over the size limit (runtime)',
  format: 'csv',
  key: dayKey('csv', 30),
  runtime: 'over-limit',
  reason: 'larger than the limit of 16777216 bytes',
});
add({
  id: 'csv-symlink-outside',
  title: 'a symlink in the mirror to a file outside it (runtime)',
  format: 'csv',
  key: dayKey('csv', 29),
  runtime: 'symlink-outside',
  reason: 'key escapes the source root',
});
add({
  id: 'csv-wrong-extension',
  title: 'a .parquet file under csv/',
  format: 'csv',
  key: dayKey('csv', 28, 4, 'system_4__date_2015_06_28.snappy.000.parquet'),
  reason: 'a csv pvdata key must end in \\.csv',
  files: [{ key: dayKey('csv', 28, 4, 'system_4__date_2015_06_28.snappy.000.parquet'), copy: GOOD_PARQUET }],
});

// valid but awkward: these must load, exactly these rows (system 4, June 2015 in May's folder would be out of range)
const valid = (id: string, title: string, month: number, day: number, bytes: Buffer | string, rows: CorpusRow[]) =>
  add(
    {
      id,
      title,
      format: 'csv',
      key: `csv/pvdata/system_id=4/year=2015/month=${month}/day=${day}/system_4__date_2015_${String(month).padStart(2, '0')}_${String(day).padStart(2, '0')}.csv`,
      rows,
    },
    { bytes },
  );
const may = (d2: number, eol = '\n') => goodCsv(d2, eol).replaceAll('2015-06-', '2015-05-');
const mayRows = (d2: number) =>
  goodRows(d2).map((r) => ({ ...r, measured_on: r.measured_on.replace('2015-06-', '2015-05-') }));
valid(
  'csv-bom',
  'UTF-8 byte order mark before the header',
  5,
  1,
  Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(may(1))]),
  mayRows(1),
);
valid('csv-crlf', 'CRLF line ends', 5, 2, may(2, '\r\n'), mayRows(2));
valid(
  'csv-quoted',
  'every field quoted, a note with a comma, a doubled quote and a line break',
  5,
  3,
  [
    '"measured_on","module_temp_1__321","note","system_id"',
    '"2015-05-03 00:00:00","21.5","plain","4"',
    '"2015-05-03 00:15:00","22.25","a, ""quoted"" note","4"',
    '"2015-05-03 00:30:00","23","two\r\nlines","4"',
    '',
  ].join('\r\n'),
  mayRows(3),
);
valid('csv-header-only', 'a header and no rows (loads nothing)', 5, 4, `${hdr}\n`, []);

async function main(): Promise<void> {
  await Promise.all(pending);
  const manifest: CorpusManifest = {
    cases,
    directKeys: [
      {
        id: 'dotdot-key',
        title: '`..` segments in a file:// key',
        key: 'parquet/pvdata/system_id=4/year=2015/month=6/day=1/../../../../../../../../etc/passwd',
        reason: 'key escapes the source root',
      },
      {
        id: 'dotdot-prefix',
        title: 'a key starting with `..`',
        key: '../outside/secret.csv',
        reason: 'key escapes the source root',
      },
      { id: 'absolute-key', title: 'an absolute key', key: '/etc/passwd', reason: 'key escapes the source root' },
      {
        id: 'backslash-key',
        title: 'backslashes in a key',
        key: 'csv\\..\\..\\secret.csv',
        reason: 'key escapes the source root',
      },
      {
        id: 'nul-key',
        title: 'a NUL byte in a key',
        key: 'csv/systems.csv\u0000.txt',
        reason: 'key escapes the source root',
      },
    ],
  };
  writeFileSync(join(CORPUS_DIR, 'cases.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  process.stdout.write(`${cases.length} cases, ${manifest.directKeys.length} direct keys → ${CORPUS_DIR}\n`);
}

await main();
