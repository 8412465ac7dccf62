import { fileURLToPath } from 'node:url';
import { BadInputError } from '@pv-pipeline/core';
import { describe, expect, it } from 'vitest';
import { SystemCatalog } from '../../src/catalog/system-catalog.js';
import { FileObjectStore } from '../../src/store/file-object-store.js';

const SAMPLES = fileURLToPath(new URL('../../../../samples/pvdaq', import.meta.url));

describe('the system catalog over the sample mirror', () => {
  it('merges the systems index and the metadata tables into typed rows, one per system', async () => {
    const catalog = await SystemCatalog.load(new FileObjectStore(SAMPLES));
    expect(catalog.indexKey).toBe('csv/systems_20250729.csv');
    const s4 = catalog.system(4)!;
    expect(s4).toMatchObject({
      ss_id: 4,
      public_name: 'Sanyo1',
      site_location: 'Golden, CO',
      latitude: 39.7406,
      longitude: -105.1774,
      dc_capacity_kw: 1,
      timezone: '7',
      tracking: 'fixed',
    });
    // 1332 has two index rows (two orientations): one row, orientations = 2
    expect(catalog.system(1332)?.orientations).toBe(2);
  });

  it('reads zones in every form: PVDAQ unsigned offsets, IANA and POSIX names', async () => {
    const catalog = await SystemCatalog.load(new FileObjectStore(SAMPLES));
    expect(await catalog.zoneOf(4)).toEqual({ kind: 'fixed', offsetMinutes: -420, label: '7' });
    expect(await catalog.zoneOf(50)).toEqual({ kind: 'iana', name: 'America/Denver', label: 'America/Denver' });
    expect((await catalog.zoneOf(51))?.kind).toBe('iana');
    expect(await catalog.zoneOf(99999)).toBeNull();
  });

  it("a system's channels: its dictionary, names unique in the system, source columns kept", async () => {
    const catalog = await SystemCatalog.load(new FileObjectStore(SAMPLES));
    const channels = await catalog.channels(4);
    expect(channels.byMetricId.get(315)).toMatchObject({
      sensor: 'ac_power',
      units: 'W',
      source_column: 'ac_power__315',
    });
    expect(new Set(channels.entries.map((e) => e.sensor)).size).toBe(channels.entries.length);
    await expect(catalog.channels(4242)).rejects.toBeInstanceOf(BadInputError);
    await expect(catalog.sensors(4242)).rejects.toThrow(/metrics dictionary of system 4242 not found/);
  });
});
