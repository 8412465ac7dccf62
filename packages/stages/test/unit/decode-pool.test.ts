import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FileObjectStore, SystemCatalog, zoneSourcesOf } from '@pv-pipeline/pvdaq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodePool } from '../../src/transform/decode-pool.js';
import { type DecodeTask, decodeReadings } from '../../src/transform/decode-readings.js';

const SAMPLES = path.resolve(import.meta.dirname, '../../../../samples/pvdaq');
const DAY = 'system_id=51/year=2022/month=1/day=6';
const OBJECTS = [
  { format: 'parquet', key: `parquet/pvdata/${DAY}/system_51__date_2022_01_06.snappy.000.parquet` },
  { format: 'csv', key: `csv/pvdata/${DAY}/system_51__date_2022_01_06.csv` },
] as const;

describe('DecodePool: a worker thread decodes as the main thread does', () => {
  let pool: DecodePool;
  let catalog: SystemCatalog;

  beforeAll(async () => {
    pool = new DecodePool(1);
    catalog = await SystemCatalog.load(new FileObjectStore(SAMPLES));
  });

  afterAll(async () => {
    await pool.close();
  });

  /** A task for a sample object of system 51, its bytes read afresh (the pool transfers them away). */
  const taskFor = async (o: (typeof OBJECTS)[number], channelIndex: boolean): Promise<DecodeTask> => ({
    key: o.key,
    etag: 'e',
    format: o.format,
    ssId: 51,
    day: '2022-01-06',
    bytes: new Uint8Array(await readFile(path.join(SAMPLES, o.key))),
    dictionary: await catalog.channels(51),
    zone: await catalog.zoneOf(51),
    zoneSources: zoneSourcesOf(51),
    channelIndex,
  });

  for (const o of OBJECTS) {
    for (const channelIndex of [false, true]) {
      it(`${o.format}${channelIndex ? ', without text' : ''}: the same manifest and the same staged bytes`, async () => {
        const here = await decodeReadings(await taskFor(o, channelIndex));
        const there = await pool.run(await taskFor(o, channelIndex));
        expect(here.manifest.rows).toBeGreaterThan(0);
        expect(there.manifest).toEqual(here.manifest);
        // the file comes back whole, in a buffer of its own
        expect(there.file).toBeInstanceOf(Uint8Array);
        expect(there.file!.byteLength).toBe(there.file!.buffer.byteLength);
        expect(Buffer.from(there.file!).equals(Buffer.from(here.file!))).toBe(true);
      });
    }
  }
});
