import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type DroppedCounts, noneDropped, type StagedManifest } from '@pv-pipeline/core';
import type { SensorEntry, SystemRow } from '@pv-pipeline/schema';
import type { Sink, WarehouseReader, WarehouseRow } from '@pv-pipeline/sinks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exec } from '../support/duckdb.js';

/**
 * The sink contract: one suite of tests every sink passes (DuckDB, the
 * Parquet dataset, BigQuery through its fake), and the only thing a new sink
 * (Postgres, ClickHouse, …) has to pass. It speaks to a sink through the
 * `Sink` interface alone and reads back through its `WarehouseReader`, and it
 * compares whole rows, every column, never counts and sums.
 */

/** How the suite makes and destroys a sink of one kind. */
export interface SinkUnderTest {
  /** A fresh, empty sink (not yet initialized); `onCommitStep` is its fault hook (a throw = a crash there). */
  make(name: string, onCommitStep?: (step: string) => void): Sink;
  /** The steps of its commit, in order (a crash is simulated at each). */
  commitSteps: readonly string[];
  /** Where staged files go. */
  stagingDir: string;
  /**
   * Turns a manifest's staged file into what this sink is fed in a cluster (e.g. a readings file
   * in `gs://` staging). @defaultValue the staged file as it is
   */
  restage?: (m: StagedManifest) => Promise<StagedManifest>;
  /** A reference to a staged file that does not exist. @defaultValue a path in `stagingDir` */
  missingStaged?: string;
}

const MINUTE_US = 60_000_000n;
const T0 = BigInt(Date.UTC(2020, 5, 1, 12, 0)) * 1000n; // µs, 2020-06-01 12:00 UTC
const iso = (us: bigint) => `${new Date(Number(us / 1000n)).toISOString().replace('Z', '')}000`;

/** A reading of a staged file: minute offset, sensor, value. */
export type Reading = [minute: number, sensor: 'ac_power' | 'poa_irradiance', value: number];
const METRIC = { ac_power: 315, poa_irradiance: 313 } as const;
const UNITS = { ac_power: 'W', poa_irradiance: 'W/m^2' } as const;

/** One object for a batch: its key, ETag, system, readings and, for byte ranges, its group and order. */
export interface TestObject {
  key: string;
  etag: string;
  ssId: number;
  readings: readonly Reading[];
  group?: string;
  order?: number;
  dropped?: Partial<DroppedCounts>;
}

let staged = 0;

/** Writes the object's staged file (the transform's schema) and returns its manifest. */
export async function manifestOf(dir: string, o: TestObject): Promise<StagedManifest> {
  const dropped = { ...noneDropped(), ...o.dropped };
  const base = {
    key: o.key,
    etag: o.etag,
    ss_id: o.ssId,
    day: '2020-06-01',
    format: 'parquet' as const,
    rows: o.readings.length,
    dropped,
    droppedBySensor: (o.dropped ? { ac_power: dropped } : {}) as Record<string, DroppedCounts>,
    group: o.group ?? null,
    order: o.order ?? null,
  };
  if (o.readings.length === 0) return { ...base, staged: null, bytes: 0, minTimestamp: null, maxTimestamp: null };
  const file = join(dir, `staged-${++staged}.parquet`);
  const values = o.readings
    .map(
      ([m, sensor, v]) =>
        `(${o.ssId}::INTEGER, make_timestamp(${T0 + BigInt(m) * MINUTE_US})::TIMESTAMPTZ, make_timestamp(${T0 + BigInt(m) * MINUTE_US - 6n * 60n * MINUTE_US}), '${sensor}', ${METRIC[sensor]}::INTEGER, '${UNITS[sensor]}', ${v}::DOUBLE)`,
    )
    .join(', ');
  await exec(
    null,
    "SET TimeZone = 'UTC'",
    `COPY (SELECT * FROM (VALUES ${values}) t(ss_id, "timestamp", measured_on, sensor, metric_id, units, "value")) TO '${file}' (FORMAT parquet)`,
  );
  const minutes = o.readings.map(([m]) => m);
  const lo = BigInt(Math.min(...minutes));
  const hi = BigInt(Math.max(...minutes));
  return {
    ...base,
    staged: file,
    bytes: 1,
    minTimestamp: String(T0 + lo * MINUTE_US),
    maxTimestamp: String(T0 + hi * MINUTE_US),
  };
}

/** The fact rows a sink must hold for these objects' readings (each reading of the object that keeps it). */
export function factRows(rows: ReadonlyArray<{ o: TestObject; r: Reading }>): WarehouseRow[] {
  return rows
    .map(({ o, r: [m, sensor, v] }) => ({
      ss_id: o.ssId,
      timestamp: `${iso(T0 + BigInt(m) * MINUTE_US)}Z`,
      measured_on: iso(T0 + BigInt(m) * MINUTE_US - 6n * 60n * MINUTE_US),
      sensor,
      metric_id: METRIC[sensor],
      units: UNITS[sensor],
      value: v,
      source_key: o.key,
    }))
    .sort(byKey);
}
const byKey = (a: WarehouseRow, b: WarehouseRow) =>
  `${a.ss_id}|${a.timestamp}|${a.sensor}`.localeCompare(`${b.ss_id}|${b.timestamp}|${b.sensor}`);
export const all = (o: TestObject) => o.readings.map((r) => ({ o, r }));

/** Every fact row the sink holds, whole, through its reader. */
export async function factsOf(sink: Sink): Promise<WarehouseRow[]> {
  const reader = await sink.openReader();
  try {
    return (
      await reader.query(
        `SELECT ss_id, timestamp, measured_on, sensor, metric_id, units, value, source_key FROM ${reader.table('pv_readings')}`,
      )
    ).sort(byKey);
  } finally {
    await reader.close();
  }
}

/** The ledger rows the sink holds (its latest per object), whole but for loaded_at. */
async function ledgerOf(sink: Sink): Promise<WarehouseRow[]> {
  const reader: WarehouseReader = await sink.openReader();
  try {
    return (
      await reader.query(
        `SELECT source_key, etag, ss_id, day, rows, run_id, min_timestamp, max_timestamp, dropped_missing, dropped_sentinel,
                dropped_non_finite, dropped_duplicate, source_group, source_order FROM ${reader.table('pv_ingest_ledger')}`,
      )
    ).sort((a, b) => String(a.source_key).localeCompare(String(b.source_key)));
  } finally {
    await reader.close();
  }
}

const key = (n: number, ss = 4) =>
  `parquet/pvdata/system_id=${ss}/year=2020/month=6/day=1/system_${ss}__date_2020_06_${String(n).padStart(2, '0')}.snappy.000.parquet`;
const A: TestObject = {
  key: key(1),
  etag: 'a1',
  ssId: 4,
  readings: [
    [0, 'ac_power', 1.5],
    [0, 'poa_irradiance', 800],
    [1, 'ac_power', 2.5],
    [2, 'ac_power', -3.25],
  ],
  dropped: { missing: 2, sentinel: 1, non_finite: 1, duplicate: 3 },
};
const B: TestObject = {
  key: key(2, 50),
  etag: 'b1',
  ssId: 50,
  readings: [
    [0, 'ac_power', 10],
    [1, 'ac_power', 11],
  ],
};

/** The contract, for one kind of sink. */
export function describeSinkContract(kind: string, sut: () => SinkUnderTest): void {
  describe(`sink contract: ${kind}`, () => {
    let sink: Sink;
    let n = 0;
    const open = async (onCommitStep?: (step: string) => void) => {
      const s = sut().make(`${kind.replace(/\W/g, '_')}_${++n}`, onCommitStep);
      await s.init();
      return s;
    };
    const manifests = (...objects: TestObject[]) => {
      const { stagingDir, restage } = sut();
      mkdirSync(stagingDir, { recursive: true });
      return Promise.all(
        objects.map(async (o) => {
          const m = await manifestOf(stagingDir, o);
          return restage && m.staged ? restage(m) : m;
        }),
      );
    };
    beforeEach(async () => {
      sink = await open();
    });
    afterEach(async () => {
      await sink.close();
    });

    it('commits a batch: every row whole, and the ledger row of each object in the destination', async () => {
      const r = await sink.commit(await manifests(A, B), 'run-1');
      expect(r).toEqual({ rows: 6, replaced: 0 });
      expect(await factsOf(sink)).toEqual(factRows([...all(A), ...all(B)]));
      expect(await sink.ledgerEtags({ ssIds: 'all', from: '2020-06-01', to: '2020-06-01' })).toEqual(
        new Map([
          [A.key, 'a1'],
          [B.key, 'b1'],
        ]),
      );
      expect(await ledgerOf(sink)).toEqual([
        {
          source_key: A.key,
          etag: 'a1',
          ss_id: 4,
          day: '2020-06-01',
          rows: 4,
          run_id: 'run-1',
          min_timestamp: `${iso(T0)}Z`,
          max_timestamp: `${iso(T0 + 2n * MINUTE_US)}Z`,
          dropped_missing: 2,
          dropped_sentinel: 1,
          dropped_non_finite: 1,
          dropped_duplicate: 3,
          source_group: null,
          source_order: null,
        },
        {
          source_key: B.key,
          etag: 'b1',
          ss_id: 50,
          day: '2020-06-01',
          rows: 2,
          run_id: 'run-1',
          min_timestamp: `${iso(T0)}Z`,
          max_timestamp: `${iso(T0 + MINUTE_US)}Z`,
          dropped_missing: 0,
          dropped_sentinel: 0,
          dropped_non_finite: 0,
          dropped_duplicate: 0,
          source_group: null,
          source_order: null,
        },
      ]);
    });

    it('the same batch again changes nothing, and the ledger is still there after reopening', async () => {
      await sink.commit(await manifests(A, B), 'run-1');
      await sink.commit(await manifests(A, B), 'run-2');
      expect(await factsOf(sink)).toEqual(factRows([...all(A), ...all(B)]));
      await sink.close();
      sink = sut().make(`${kind.replace(/\W/g, '_')}_${n}`);
      await sink.init();
      expect(await factsOf(sink)).toEqual(factRows([...all(A), ...all(B)]));
      expect((await sink.ledgerEtags({ ssIds: [4], from: '2020-06-01', to: '2020-06-01' })).get(A.key)).toBe('a1');
    });

    it('closing while a commit is in flight waits for it: the batch is whole after reopening', async () => {
      const batch = await manifests(A, B);
      // close() is called as a shutdown would, once the commit has begun and before it ends
      let stepped!: () => void;
      const begun = new Promise<void>((resolve) => {
        stepped = resolve;
      });
      await sink.close();
      sink = sut().make(`${kind.replace(/\W/g, '_')}_${n}`, () => stepped());
      await sink.init();
      const committing = sink.commit(batch, 'run-1');
      await begun;
      const closing = sink.close();
      expect(await committing).toEqual({ rows: 6, replaced: 0 });
      await closing;
      sink = sut().make(`${kind.replace(/\W/g, '_')}_${n}`);
      await sink.init();
      expect(await factsOf(sink)).toEqual(factRows([...all(A), ...all(B)]));
      expect(await sink.ledgerEtags({ ssIds: 'all', from: '2020-06-01', to: '2020-06-01' })).toEqual(
        new Map([
          [A.key, 'a1'],
          [B.key, 'b1'],
        ]),
      );
    });

    it('a changed object replaces exactly its own rows (by source key); an emptied one loses them', async () => {
      await sink.commit(await manifests(A, B), 'run-1');
      const A2: TestObject = { ...A, etag: 'a2', readings: [[5, 'ac_power', 99]] };
      expect(await sink.commit(await manifests(A2), 'run-2')).toEqual({ rows: 1, replaced: 4 });
      expect(await factsOf(sink)).toEqual(factRows([...all(A2), ...all(B)]));
      const A3: TestObject = { ...A, etag: 'a3', readings: [] };
      expect(await sink.commit(await manifests(A3), 'run-3')).toEqual({ rows: 0, replaced: 1 });
      expect(await factsOf(sink)).toEqual(factRows(all(B)));
      expect((await sink.ledgerEtags({ ssIds: [4], from: '2020-06-01', to: '2020-06-01' })).get(A.key)).toBe('a3');
    });

    it('a reading two objects deliver is kept once, from the later object: across commits and within a batch', async () => {
      const C: TestObject = {
        key: key(3),
        etag: 'c1',
        ssId: 4,
        readings: [
          [1, 'ac_power', 7],
          [9, 'ac_power', 8],
        ],
      };
      const D: TestObject = {
        key: key(4),
        etag: 'd1',
        ssId: 4,
        readings: [
          [9, 'ac_power', 6],
          [10, 'ac_power', 5],
        ],
      };
      await sink.commit(await manifests(A), 'run-1');
      // C re-delivers A's minute 1; within the batch D (later) re-delivers C's minute 9
      await sink.commit(await manifests(C, D), 'run-2');
      expect(await factsOf(sink)).toEqual(
        factRows([
          ...all(A).filter(({ r }) => !(r[0] === 1 && r[1] === 'ac_power')),
          { o: C, r: C.readings[0]! },
          ...all(D),
        ]),
      );
    });

    it('byte ranges of one file: the later in the file keeps a reading, whatever order they commit in', async () => {
      const file = '2023-solar-data-prize/2107_OEDI/data/2107_x.csv';
      const other = '2023-solar-data-prize/2105_OEDI/data/2105_y.csv';
      const part = (f: string, ss: number, start: number, readings: Reading[]): TestObject => ({
        key: `${f}#bytes=${start}-${start + 99}`,
        etag: 'f1',
        ssId: ss,
        readings,
        group: f,
        order: start,
      });
      // minute 1 of p0: a stale value, corrected by p1 later in the file
      const p0 = part(file, 2107, 0, [
        [0, 'ac_power', 1],
        [1, 'ac_power', 2],
      ]);
      const p1 = part(file, 2107, 100, [
        [1, 'ac_power', 20],
        [2, 'ac_power', 3],
      ]);
      const p2 = part(file, 2107, 200, [
        [2, 'ac_power', 30],
        [3, 'ac_power', 4],
      ]);
      // p1 first, then p0 (earlier in the file, committed later) and p2 in one batch
      await sink.commit(await manifests(p1), 'run-1');
      await sink.commit(await manifests(p2, p0), 'run-2');
      // within one batch too: a later range ahead of an earlier one in the batch
      const q0 = part(other, 2105, 0, [
        [0, 'ac_power', 5],
        [1, 'ac_power', 6],
      ]);
      const q1 = part(other, 2105, 100, [
        [1, 'ac_power', 60],
        [2, 'ac_power', 7],
      ]);
      await sink.commit(await manifests(q1, q0), 'run-3');
      expect(await factsOf(sink)).toEqual(
        factRows([
          { o: p0, r: p0.readings[0]! },
          { o: p1, r: p1.readings[0]! },
          ...all(p2),
          { o: q0, r: q0.readings[0]! },
          ...all(q1),
        ]),
      );
      expect((await ledgerOf(sink)).map((l) => [l.source_group, l.source_order])).toEqual([
        [other, 0],
        [other, 100],
        [file, 0],
        [file, 100],
        [file, 200],
      ]);
    });

    it('a batch with an unusable staged file fails whole: nothing of it is visible, what was loaded stays', async () => {
      await sink.commit(await manifests(B), 'run-1');
      const [a, broken] = await manifests(A, { ...B, key: key(5, 50), etag: 'x1' });
      const missing = { ...broken!, staged: sut().missingStaged ?? join(sut().stagingDir, 'no-such-file.parquet') };
      await expect(sink.commit([a!, missing], 'run-2')).rejects.toThrow();
      expect(await factsOf(sink)).toEqual(factRows(all(B)));
      expect([...(await sink.ledgerEtags({ ssIds: 'all', from: '2020-06-01', to: '2020-06-01' })).keys()]).toEqual([
        B.key,
      ]);
    });

    it('a crash at any step of a commit leaves the batch whole or absent, and the redo loads it exactly once', async () => {
      const steps = sut().commitSteps;
      expect(steps.length).toBeGreaterThan(0);
      for (const step of steps) {
        let armed = false;
        const crashing = await open((s) => {
          if (armed && s === step) {
            armed = false;
            throw new Error(`crash at ${s}`);
          }
        });
        try {
          await crashing.commit(await manifests(B), 'run-1');
          armed = true;
          const A2: TestObject = { ...A, readings: [...A.readings, [1, 'ac_power', 4.75]].slice(1) as Reading[] };
          const C: TestObject = { key: key(3), etag: 'c1', ssId: 4, readings: [[1, 'ac_power', 7]] };
          await expect(crashing.commit(await manifests(A2, C), 'run-2'), step).rejects.toThrow(/crash at/);
          const after = await factsOf(crashing);
          const before = factRows(all(B));
          const done = factRows([
            ...all(B),
            ...all(A2).filter(({ r }) => !(r[0] === 1 && r[1] === 'ac_power')),
            ...all(C),
          ]);
          // whole or absent: never a part of the batch (a file published before its ledger may show early)
          expect([JSON.stringify(before), JSON.stringify(done)], step).toContain(JSON.stringify(after));
          await crashing.commit(await manifests(A2, C), 'run-3');
          expect(await factsOf(crashing), step).toEqual(done);
        } finally {
          await crashing.close();
        }
      }
    });

    it('dimensions and runs are upserted by key and read back whole', async () => {
      const system = (ss: number, name: string): SystemRow => ({
        ss_id: ss,
        public_name: name,
        site_id: 9,
        site_location: 'Golden, CO',
        latitude: 39.74,
        longitude: -105.17,
        elevation: 1795.3,
        av_pressure: null,
        av_temp: null,
        climate_type: 'BSk',
        mount_azimuth: 180,
        mount_tilt: 40,
        orientations: 1,
        tracking: 'fixed',
        mount_type: 'roof',
        dc_capacity_kw: 1,
        area_m2: null,
        timezone: '7',
        started_on: '2007-08-01T06:00:00.000Z',
        ended_on: null,
        qa_status: 'pass',
        qa_issue: null,
        available_sensor_channels: 15,
      });
      const sensor = (ss: number, name: string, units: string | null): SensorEntry => ({
        ss_id: ss,
        metric_id: 315,
        sensor: name,
        common_name: 'AC power',
        standard_name: 'ac_power',
        raw_units: units,
        units,
        calc_scale: 1,
        calc_offset: null,
        aggregation_type: 'avg',
        source_type: 'inverters',
        source_column: `${name}__315`,
        interval_s: null,
      });
      await sink.upsertSystems([system(4, 'first'), system(50, 'SERF East')]);
      await sink.upsertSystems([system(4, 'Sanyo1')]);
      await sink.upsertSensors([sensor(4, 'ac_power', 'kW'), sensor(4, 'ac_power', 'W')]);
      await sink.recordRun({
        run_id: 'r1',
        state: 'partial',
        request: '{"systems":[4]}',
        planned: 3,
        loaded: 2,
        skipped: 0,
        failed: 1,
        readings: 20,
        replaced: 4,
        dropped: '{"missing":1}',
        errors: '[{"key":"k","reason":"bad"}]',
        warnings: null,
        started_at: '2026-01-01T00:00:00.000Z',
        finished_at: '2026-01-01T00:00:01.500Z',
      });
      const reader = await sink.openReader();
      try {
        const systems = await reader.query(
          `SELECT ss_id, public_name, latitude, elevation, climate_type, dc_capacity_kw, timezone, started_on, ended_on FROM ${reader.table('pv_systems')} ORDER BY ss_id`,
        );
        expect(systems).toEqual([
          {
            ss_id: 4,
            public_name: 'Sanyo1',
            latitude: 39.74,
            elevation: 1795.3,
            climate_type: 'BSk',
            dc_capacity_kw: 1,
            timezone: '7',
            started_on: '2007-08-01T06:00:00.000000Z',
            ended_on: null,
          },
          {
            ss_id: 50,
            public_name: 'SERF East',
            latitude: 39.74,
            elevation: 1795.3,
            climate_type: 'BSk',
            dc_capacity_kw: 1,
            timezone: '7',
            started_on: '2007-08-01T06:00:00.000000Z',
            ended_on: null,
          },
        ]);
        expect(await reader.query(`SELECT * FROM ${reader.table('pv_sensors')}`)).toEqual([
          { ...sensor(4, 'ac_power', 'W') },
        ]);
        expect(
          await reader.query(
            `SELECT run_id, state, failed, replaced, dropped, errors, warnings, finished_at FROM ${reader.table('pv_runs')}`,
          ),
        ).toEqual([
          {
            run_id: 'r1',
            state: 'partial',
            failed: 1,
            replaced: 4,
            dropped: '{"missing":1}',
            errors: '[{"key":"k","reason":"bad"}]',
            warnings: null,
            finished_at: '2026-01-01T00:00:01.500000Z',
          },
        ]);
      } finally {
        await reader.close();
      }
    });
  });
}
