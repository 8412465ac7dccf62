import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { StagedChannel } from '@pv-pipeline/core';
import { dictionaryOf, type NormalizedReadings } from '@pv-pipeline/pvdaq';
import type { SensorEntry } from '@pv-pipeline/schema';
import { describe, expect, it } from 'vitest';
import { decodeReadings } from '../../src/transform/decode-readings.js';
import { collectingChannels } from '../../src/transform/staged-parquet.js';

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

/** The distinct (sensor, metric_id, units) of a staged Parquet file's rows, as DuckDB reads them. */
async function channelsInFile(bytes: Uint8Array): Promise<StagedChannel[]> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const dir = mkdtempSync(join(tmpdir(), 'pv-staged-channels-'));
    const file = join(dir, 'staged.parquet');
    writeFileSync(file, bytes);
    const rows = (
      await c.runAndReadAll(
        `SELECT DISTINCT sensor, metric_id::INTEGER AS metric_id, units FROM read_parquet('${file}') ORDER BY ALL`,
      )
    ).getRowObjectsJS();
    rmSync(dir, { recursive: true, force: true });
    return rows as unknown as StagedChannel[];
  } finally {
    c.closeSync();
    db.closeSync();
  }
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

  it('streamed (prize): the channels of every batch, each once', async () => {
    const batch = (sensors: SensorEntry[], length: number) => ({ length, sensors }) as unknown as NormalizedReadings;
    async function* batches() {
      yield batch([entry(1, 'a', 'W'), entry(2, 'b', null)], 3);
      yield batch([entry(9, 'unused', 'V')], 0);
      yield batch([entry(2, 'b', null), entry(3, 'c', 'kW')], 2);
    }
    const into = new Map<string, StagedChannel>();
    const passed: number[] = [];
    for await (const b of collectingChannels(batches(), into)) passed.push(b.length);
    expect(passed).toEqual([3, 0, 2]);
    expect([...into.values()]).toEqual([
      { sensor: 'a', metric_id: 1, units: 'W' },
      { sensor: 'b', metric_id: 2, units: null },
      { sensor: 'c', metric_id: 3, units: 'kW' },
    ]);
  });
});
