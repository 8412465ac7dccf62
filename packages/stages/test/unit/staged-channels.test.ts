import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { noneDropped, type StagedChannel } from '@pv-pipeline/core';
import { dictionaryOf, type NormalizedReadings } from '@pv-pipeline/pvdaq';
import { type SensorEntry, STAGED_CHANNEL_INDEX_COLUMNS } from '@pv-pipeline/schema';
import { describe, expect, it } from 'vitest';
import { decodeReadings } from '../../src/transform/decode-readings.js';
import { StagedChannelList, stagedParquetStream } from '../../src/transform/staged-parquet.js';

const entry = (metric_id: number, sensor: string, units: string | null): SensorEntry => ({
  ss_id: 51,
  metric_id,
  sensor,
  common_name: null,
  standard_name: null,
  raw_units: null,
  units,
  calc_scale: null,
  calc_offset: null,
  aggregation_type: null,
  source_type: null,
  source_column: null,
  interval_s: null,
});

/** Runs `sql` over a staged file (the table `f`) in a fresh in-memory DuckDB, rows as plain objects. */
async function queryFile(bytes: Uint8Array, sql: string): Promise<Array<Record<string, unknown>>> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const dir = mkdtempSync(join(tmpdir(), 'pv-staged-channels-'));
  try {
    const file = join(dir, 'staged.parquet');
    writeFileSync(file, bytes);
    await c.run("SET TimeZone = 'UTC'");
    await c.run(`CREATE VIEW f AS SELECT * FROM read_parquet('${file}')`);
    return (await c.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    c.closeSync();
    db.closeSync();
  }
}

/** The distinct (sensor, metric_id, units) of a staged Parquet file's rows, as DuckDB reads them. */
async function channelsInFile(bytes: Uint8Array): Promise<StagedChannel[]> {
  const rows = await queryFile(
    bytes,
    'SELECT DISTINCT sensor, metric_id::INTEGER AS metric_id, units FROM f ORDER BY ALL',
  );
  return rows as unknown as StagedChannel[];
}

/** Every row of a staged file with the names, as text, sorted. */
const NAMED_ROWS = `SELECT ss_id::BIGINT AS ss_id, timestamp::VARCHAR AS ts, measured_on::VARCHAR AS mo, sensor,
  metric_id::BIGINT AS metric_id, units, value FROM f ORDER BY ALL`;

/** Every row of a staged file without text, its channel positions resolved through `channels`, sorted like NAMED_ROWS. */
function indexedRows(channels: readonly StagedChannel[]): string {
  const list = channels
    .map((c, i) => `(${i}, '${c.sensor}', ${c.metric_id}, ${c.units === null ? 'NULL' : `'${c.units}'`}::VARCHAR)`)
    .join(', ');
  return `SELECT f.ss_id::BIGINT AS ss_id, f.timestamp::VARCHAR AS ts, f.measured_on::VARCHAR AS mo, c.sensor,
    c.metric_id::BIGINT AS metric_id, c.units, f.value
    FROM f JOIN (VALUES ${list}) c(channel, sensor, metric_id, units) ON c.channel = f.channel ORDER BY ALL`;
}

describe('a staged file’s manifest lists the channels its rows carry', () => {
  it('daily CSV: every channel with a row, with its units (null where the dictionary has none)', async () => {
    const csv = [
      'measured_on,ac_power__773,poa_irradiance__771,module_temp__781,system_id',
      '2022-01-06 00:01:00,-9.89,0.07,-16.1,51',
      '2022-01-06 00:16:00,2.13,,-16.2,51',
    ].join('\n');
    const dictionary = dictionaryOf(51, 'metrics.parquet', [
      entry(773, 'ac_power', 'W'),
      entry(771, 'poa_irradiance', null),
      entry(781, 'module_temp', 'C'),
    ]);
    const { manifest, file } = await decodeReadings({
      key: 'csv/pvdata/system_id=51/year=2022/month=1/day=6/system_51__date_2022_01_06.csv',
      etag: 'e',
      format: 'csv',
      ssId: 51,
      day: '2022-01-06',
      bytes: new TextEncoder().encode(csv),
      dictionary,
      zone: { kind: 'fixed', offsetMinutes: -420, label: '-07:00' },
      zoneSources: 'test',
    });
    expect(manifest.rows).toBe(5);
    const listed = [...(manifest.channels ?? [])].sort((a, b) => a.sensor.localeCompare(b.sensor));
    expect(listed).toEqual([
      { sensor: 'ac_power', metric_id: 773, units: 'W' },
      { sensor: 'module_temp', metric_id: 781, units: 'C' },
      { sensor: 'poa_irradiance', metric_id: 771, units: null },
    ]);
    expect(await channelsInFile(file!)).toEqual(listed);
  });

  it('streamed (prize): the channels of every batch, each once, in the order first met', () => {
    const list = new StagedChannelList();
    expect([...list.positionsOf([entry(1, 'a', 'W'), entry(2, 'b', null)])]).toEqual([0, 1]);
    expect([...list.positionsOf([entry(2, 'b', null), entry(3, 'c', 'kW'), entry(1, 'a', 'W')])]).toEqual([1, 2, 0]);
    // the same name with other units is another channel
    expect(list.positionOf(entry(1, 'a', 'kW'))).toBe(3);
    expect(list.channels).toEqual([
      { sensor: 'a', metric_id: 1, units: 'W' },
      { sensor: 'b', metric_id: 2, units: null },
      { sensor: 'c', metric_id: 3, units: 'kW' },
      { sensor: 'a', metric_id: 1, units: 'kW' },
    ]);
  });
});

describe('staged files without text (layout channel_index) hold the same rows as with the names', () => {
  const csvTask = (channelIndex: boolean) => ({
    key: 'csv/pvdata/system_id=51/year=2022/month=1/day=6/system_51__date_2022_01_06.csv',
    etag: 'e',
    format: 'csv' as const,
    ssId: 51,
    day: '2022-01-06',
    bytes: new TextEncoder().encode(
      [
        'measured_on,ac_power__773,poa_irradiance__771,module_temp__781,system_id',
        '2022-01-06 00:01:00,-9.89,0.07,-16.1,51',
        '2022-01-06 00:16:00,2.13,,-16.2,51',
      ].join('\n'),
    ),
    dictionary: dictionaryOf(51, 'metrics.parquet', [
      entry(773, 'ac_power', 'W'),
      entry(771, 'poa_irradiance', null),
      entry(781, 'module_temp', 'C'),
    ]),
    zone: { kind: 'fixed' as const, offsetMinutes: -420, label: '-07:00' },
    zoneSources: 'test',
    channelIndex,
  });

  it("daily: the columns are the schema's, and each position names the manifest's channel", async () => {
    const named = await decodeReadings(csvTask(false));
    const indexed = await decodeReadings(csvTask(true));
    expect(named.manifest.layout).toBeUndefined();
    expect(indexed.manifest.layout).toBe('channel_index');
    expect(indexed.manifest.rows).toBe(5);
    const columns = await queryFile(indexed.file!, 'SELECT column_name FROM (DESCRIBE f)');
    expect(columns.map((c) => c.column_name)).toEqual(STAGED_CHANNEL_INDEX_COLUMNS.map((c) => c.name));
    const expected = await queryFile(named.file!, NAMED_ROWS);
    expect(expected).toHaveLength(5);
    expect(await queryFile(indexed.file!, indexedRows(indexed.manifest.channels!))).toEqual(expected);
  });

  it('streamed: batches with their own sensor orders map to one list of positions', async () => {
    const [a, b, c] = [entry(1, 'a', 'W'), entry(2, 'b', null), entry(3, 'c', 'kW')];
    const batch = (sensors: SensorEntry[], rows: Array<[number, number, number]>): NormalizedReadings => ({
      ssId: 51,
      length: rows.length,
      timestamp: Float64Array.from(rows, ([t]) => t * 60e6),
      measuredOn: Float64Array.from(rows, ([t]) => (t - 420) * 60e6),
      sensorIdx: Int32Array.from(rows, ([, s]) => s),
      metricId: Int32Array.from(rows, ([, s]) => sensors[s]!.metric_id),
      value: Float64Array.from(rows, ([, , v]) => v),
      sensors,
      dropped: noneDropped(),
      droppedBySensor: {},
    });
    const batches = () =>
      (async function* () {
        yield batch(
          [a, b],
          [
            [1, 0, 1.5],
            [1, 1, 2.5],
          ],
        );
        yield batch([entry(9, 'unused', 'V')], []);
        yield batch(
          [c, b, a],
          [
            [2, 0, 3.5],
            [2, 1, 4.5],
            [2, 2, 5.5],
          ],
        );
      })();
    const fileOf = async (channelIndex: boolean) => {
      const list = new StagedChannelList();
      const pieces: Uint8Array[] = [];
      for await (const piece of stagedParquetStream(batches(), list, channelIndex)) pieces.push(piece);
      return { bytes: Buffer.concat(pieces), channels: list.channels };
    };
    const named = await fileOf(false);
    const indexed = await fileOf(true);
    expect(indexed.channels).toEqual([
      { sensor: 'a', metric_id: 1, units: 'W' },
      { sensor: 'b', metric_id: 2, units: null },
      { sensor: 'c', metric_id: 3, units: 'kW' },
    ]);
    expect(named.channels).toEqual(indexed.channels);
    const expected = await queryFile(named.bytes, NAMED_ROWS);
    expect(expected.map((r) => [r.sensor, r.value])).toEqual([
      ['a', 1.5],
      ['b', 2.5],
      ['a', 5.5],
      ['b', 4.5],
      ['c', 3.5],
    ]);
    expect(await queryFile(indexed.bytes, indexedRows(indexed.channels))).toEqual(expected);
  });

  it('streamed: batches that shrink, grow and change system share the encoding buffers without mixing rows', async () => {
    const sensors = [entry(1, 'a', 'W'), entry(2, 'b', null), entry(3, 'c', 'kW')];
    // (system, rows): the encoding buffers grow, then hold more than a batch, then grow again
    const shapes: Array<[number, number]> = [
      [51, 3000],
      [51, 7],
      [52, 20_000],
      [52, 1],
      [51, 4500],
    ];
    let minute = 0;
    const made = shapes.map(([ssId, n]): NormalizedReadings => {
      const first = minute;
      minute += n;
      return {
        ssId,
        length: n,
        timestamp: Float64Array.from({ length: n }, (_, i) => (first + i) * 60e6),
        measuredOn: Float64Array.from({ length: n }, (_, i) => (first + i - 420) * 60e6),
        sensorIdx: Int32Array.from({ length: n }, (_, i) => (first + i) % 3),
        metricId: Int32Array.from({ length: n }, (_, i) => sensors[(first + i) % 3]!.metric_id),
        value: Float64Array.from({ length: n }, (_, i) => (first + i) / 8),
        sensors,
        dropped: noneDropped(),
        droppedBySensor: {},
      };
    });
    const expected = made
      .flatMap((r) =>
        Array.from(r.timestamp, (t, i) => ({
          ss_id: r.ssId,
          ts: t,
          mo: r.measuredOn[i],
          sensor: sensors[r.sensorIdx[i]!]!.sensor,
          value: r.value[i],
        })),
      )
      .sort((x, y) => x.ts - y.ts);
    for (const channelIndex of [false, true]) {
      const list = new StagedChannelList();
      const pieces: Uint8Array[] = [];
      const batches = (async function* () {
        yield* made;
      })();
      for await (const piece of stagedParquetStream(batches, list, channelIndex)) pieces.push(piece);
      const sensor = channelIndex
        ? `(['${list.channels.map((c) => c.sensor).join("', '")}'])[channel + 1]`
        : 'sensor::VARCHAR';
      const rows = await queryFile(
        Buffer.concat(pieces),
        `SELECT ss_id::INTEGER AS ss_id, epoch_us(timestamp)::DOUBLE AS ts, epoch_us(measured_on)::DOUBLE AS mo,
          ${sensor} AS sensor, value FROM f ORDER BY ts`,
      );
      expect(rows, channelIndex ? 'channel_index' : 'named').toEqual(expected);
    }
  });
});
