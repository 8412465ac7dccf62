import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadInputError, type StagedManifest } from '@pv-pipeline/core';
import { PV_READINGS } from '@pv-pipeline/schema';
import {
  DatasetBucket,
  ObjectParquetSink,
  ReadingsFileWriter,
  ReadingsPlacement,
  type WarehouseRow,
} from '@pv-pipeline/sinks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { all, factRows, factsOf, manifestOf, type TestObject } from '../contract/sink-contract.js';
import { ROOT, runCli } from '../support/cli.js';
import { exec, query } from '../support/duckdb.js';
import { mirrorDataset, queryThroughRecipe, READ_RECIPE } from '../support/parquet-s3-recipe.js';
import { S3RVER_CREDENTIALS, type S3Server, startS3Server } from '../support/s3-server.js';

/**
 * The Parquet dataset on object storage (parquet+s3://), against a real
 * S3-protocol server: what only it has (commits without rename, placed
 * files, vacuum, the read recipe). What every sink does is the contract
 * suite's (test/contract/sinks.test.ts).
 */

const BUCKET = 'lake';
let s3: S3Server;
let work: string;
let n = 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'pv-parquet-s3-'));
  mkdirSync(join(work, 'staged'));
  s3 = await startS3Server();
  await s3.bucket(BUCKET);
});
afterAll(async () => {
  await s3?.stop();
  rmSync(work, { recursive: true, force: true });
});

const key = (day: number, ss = 4) =>
  `pvdata/system_id=${ss}/year=2020/month=6/day=${day}/system_${ss}__date_2020_06_0${day}.parquet`;
const A: TestObject = {
  key: key(1),
  etag: 'a1',
  ssId: 4,
  readings: [
    [0, 'ac_power', 1.5],
    [1, 'ac_power', 2.5],
    [0, 'poa_irradiance', 800],
  ],
};
const B: TestObject = {
  key: key(2, 50),
  etag: 'b1',
  ssId: 50,
  readings: [
    [0, 'ac_power', 10],
    [5, 'ac_power', 11],
  ],
};
/** Delivers A's minute 1 again: A loses it (a trim: A's file is rewritten under a new name). */
const C: TestObject = {
  key: key(3),
  etag: 'c1',
  ssId: 4,
  readings: [
    [1, 'ac_power', 9.25],
    [2, 'ac_power', 3],
  ],
};

const manifests = (...objects: TestObject[]) => Promise.all(objects.map((o) => manifestOf(join(work, 'staged'), o)));

async function openSink(prefix: string, onCommitStep?: (step: string) => void): Promise<ObjectParquetSink> {
  const sink = new ObjectParquetSink({
    bucket: BUCKET,
    prefix,
    endpoint: s3.endpoint,
    credentials: S3RVER_CREDENTIALS,
    workDir: join(work, 'sink-work'),
    ...(onCommitStep ? { onCommitStep } : {}),
  });
  await sink.init();
  return sink;
}

function bucketOf(prefix: string): DatasetBucket {
  return new DatasetBucket({ bucket: BUCKET, prefix, endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS });
}

/** The readings files in the bucket, by key. */
async function readingsFiles(prefix: string): Promise<string[]> {
  return (await bucketOf(prefix).list('pv_readings/')).map((o) => o.key).sort();
}

/** The readings through the README's read recipe, run on a local copy of the bucket (no httpfs here). */
async function readThroughRecipe(prefix: string): Promise<Array<Record<string, unknown>>> {
  return queryThroughRecipe(await mirrorDataset(bucketOf(prefix), join(work, `mirror-${++n}`)), READINGS_SQL);
}

const READINGS_SQL = `SELECT ss_id, CAST("timestamp" AS VARCHAR) AS ts, CAST(measured_on AS VARCHAR) AS mo, sensor, metric_id, units, value, source_key
  FROM pv_readings ORDER BY ss_id, "timestamp", sensor`;

/** The same rows through the sink's own reader. */
async function readThroughSink(sink: ObjectParquetSink): Promise<WarehouseRow[]> {
  const reader = await sink.openReader();
  try {
    return await reader.query(READINGS_SQL.replace('FROM pv_readings', `FROM ${reader.table('pv_readings')}`));
  } finally {
    await reader.close();
  }
}

describe('Parquet dataset on object storage (parquet+s3://, s3rver)', () => {
  it('a batch is referenced only once its ledger file is in; a crash leaves unreferenced files, which vacuum deletes', async () => {
    const prefix = 'crash';
    const steady = await openSink(prefix);
    await steady.commit(await manifests(B), 'run-1');
    await steady.close();
    let armed = true;
    const crashing = await openSink(prefix, (step) => {
      if (armed && step === 'files-uploaded') {
        armed = false;
        throw new Error('crash at files-uploaded');
      }
    });
    await expect(crashing.commit(await manifests(A, C), 'run-2')).rejects.toThrow(/crash at/);
    await crashing.close();

    // three files in the bucket, one referenced: readers see B alone, by the recipe and by the sink
    expect(await readingsFiles(prefix)).toHaveLength(3);
    const sink = await openSink(prefix);
    expect(await factsOf(sink)).toEqual(factRows(all(B)));
    const before = await readThroughSink(sink);
    expect(await readThroughRecipe(prefix)).toEqual(before);

    // young unreferenced files stay (their batch may be on its way); a dry run deletes nothing
    expect(await sink.vacuum()).toMatchObject({ files: 3, referenced: 1, deleted: [], keptRecent: 2 });
    const dry = await sink.vacuum({ olderThanMs: 0, dryRun: true });
    expect(dry.deleted).toHaveLength(2);
    expect(await readingsFiles(prefix)).toHaveLength(3);
    const done = await sink.vacuum({ olderThanMs: 0 });
    expect(done.deleted.sort()).toEqual(dry.deleted.sort());
    expect(done.deletedBytes).toBeGreaterThan(0);
    expect(await readingsFiles(prefix)).toHaveLength(1);
    expect(await readThroughSink(sink)).toEqual(before);

    // the redo commits the batch whole; a changed object's earlier file is then unreferenced, and vacuumed
    await sink.commit(await manifests(A, C), 'run-3');
    const B2: TestObject = { ...B, etag: 'b2', readings: [[7, 'ac_power', 12]] };
    expect(await sink.commit(await manifests(B2), 'run-4')).toEqual({ rows: 1, replaced: 2 });
    const expected = factRows([
      ...all(A).filter(({ r }) => !(r[0] === 1 && r[1] === 'ac_power')),
      ...all(C),
      ...all(B2),
    ]);
    expect(await factsOf(sink)).toEqual(expected);
    // A lost its minute 1 to C within the batch (before its upload); B's earlier file is no longer referenced
    expect(await sink.vacuum({ olderThanMs: 0 })).toMatchObject({ files: 4, referenced: 3 });
    expect(await readingsFiles(prefix)).toHaveLength(3);
    expect(await factsOf(sink)).toEqual(expected);
    await sink.close();
  });

  it('the read recipe reads the dataset exactly as the sink does: trims, replacements, emptied objects', async () => {
    const prefix = 'recipe/nested';
    const sink = await openSink(prefix);
    await sink.commit(await manifests(A, B), 'run-1');
    await sink.commit(await manifests(C), 'run-2');
    const emptied: TestObject = { ...B, etag: 'b3', readings: [] };
    await sink.commit(await manifests(emptied), 'run-3');
    const expected = factRows([...all(A).filter(({ r }) => !(r[0] === 1 && r[1] === 'ac_power')), ...all(C)]);
    expect(await factsOf(sink)).toEqual(expected);
    // A committed, then trimmed by C's batch (a new file and ledger row); B emptied: 4 files, 2 referenced
    expect(await sink.vacuum({ dryRun: true, olderThanMs: 0 })).toMatchObject({ files: 4, referenced: 2 });
    const viaSink = await readThroughSink(sink);
    expect(viaSink).toHaveLength(expected.length);
    expect(await readThroughRecipe(prefix)).toEqual(viaSink);
    // every file, the trimmed one included, holds pv_readings' columns and no others (no year/month from its path)
    const root = await mirrorDataset(bucketOf(prefix), join(work, `mirror-${++n}`));
    const columns = await query(
      null,
      `SELECT DISTINCT name FROM parquet_schema('${root}/pv_readings/**/*.parquet') WHERE name <> 'duckdb_schema' ORDER BY name`,
    );
    expect(columns.map((c) => c.name)).toEqual(PV_READINGS.columns.map((c) => c.name).sort());
    // the copies made for the trims and the readers went with them: the sink keeps only the ledger
    const kept = readdirSync(join(work, 'sink-work'), { recursive: true }).map(String);
    expect(kept.filter((f) => /pv_readings|reader-|commit-|table-/.test(f))).toEqual([]);
    expect(kept.some((f) => /ledger\/ledger-.*\.parquet$/.test(f))).toBe(true);
    await sink.close();
  });

  it('the README shows the tested read recipe verbatim', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(readFileSync(READ_RECIPE, 'utf8').trim());
  });

  it('a placed file is committed where the worker put it, after a size check; a missing or resized one fails the batch', async () => {
    const prefix = 'placed';
    const sink = await openSink(prefix);
    const writer = new ReadingsFileWriter();
    const placement = new ReadingsPlacement(bucketOf(prefix));
    const place = async (o: TestObject): Promise<StagedManifest> => {
      const [m] = await manifests(o);
      const out = join(work, `placed-${++n}.parquet`);
      expect(await writer.write(m!, m!.staged!, out)).toBe(o.readings.length);
      await placement.place(m!, await readFile(out));
      return m!;
    };
    try {
      const a = await place(A);
      expect(a).toMatchObject({ placed: true, layout: 'pv_readings' });
      expect(a.staged).toMatch(
        /^s3:\/\/lake\/placed\/pv_readings\/ss_id=4\/year=2020\/month=6\/part-[0-9a-f]{32}-[0-9a-f]{16}\.parquet$/,
      );
      expect(await sink.commit([a], 'run-1')).toEqual({ rows: 3, replaced: 0 });
      // the loader uploaded nothing: the one file is the worker's
      expect(await readingsFiles(prefix)).toEqual([bucketOf(prefix).keyOf(a.staged!)]);
      expect(await factsOf(sink)).toEqual(factRows(all(A)));

      const resized = { ...(await place(B)), bytes: 7 };
      await expect(sink.commit([resized], 'run-2')).rejects.toThrow(BadInputError);
      await expect(sink.commit([resized], 'run-2')).rejects.toThrow(/has \d+ bytes, its manifest says 7/);
      const gone = await place(B);
      await bucketOf(prefix).delete([bucketOf(prefix).keyOf(gone.staged!)!]);
      await expect(sink.commit([gone], 'run-3')).rejects.toThrow(`${B.key}: placed file ${gone.staged} is missing`);
      const elsewhere = { ...(await place(B)), staged: 's3://other-bucket/x.parquet' };
      await expect(sink.commit([elsewhere], 'run-4')).rejects.toThrow(/is not in parquet\+s3:\/\/lake\/placed/);
      expect(await factsOf(sink)).toEqual(factRows(all(A)));
      expect([...(await sink.ledgerEtags({ ssIds: 'all', from: '2020-01-01', to: '2020-12-31' })).keys()]).toEqual([
        A.key,
      ]);
    } finally {
      await writer.close();
      await sink.close();
    }
  });

  it('a ledger file stamped ahead (a loader whose clock ran fast) does not outlive a later commit', async () => {
    const prefix = 'clock-ahead';
    const first = await openSink(prefix);
    await first.commit(await manifests(B), 'run-1');
    await first.close();
    // what a loader a day ahead would have written: the same row, another ETag, named and stamped a day later
    const bucket = bucketOf(prefix);
    const [ledger] = await bucket.list('pv_ingest_ledger/');
    const local = join(work, `ledger-${++n}.parquet`);
    await bucket.get(ledger!.key, local);
    const aheadFile = join(work, `ledger-ahead-${n}.parquet`);
    await exec(
      null,
      `COPY (SELECT * REPLACE ('etag-ahead' AS etag, loaded_at + INTERVAL 1 DAY AS loaded_at) FROM read_parquet('${local}')) TO '${aheadFile}' (FORMAT parquet)`,
    );
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().replace(/[-:.]/g, '');
    await bucket.put(`pv_ingest_ledger/ledger-${tomorrow}-ahead.parquet`, aheadFile);

    const sink = await openSink(prefix);
    const range = { ssIds: [B.ssId], from: '2020-06-01', to: '2020-06-01' };
    expect((await sink.ledgerEtags(range)).get(B.key)).toBe('etag-ahead');
    const B2: TestObject = { ...B, etag: 'b2', readings: [[7, 'ac_power', 12]] };
    await sink.commit(await manifests(B2), 'run-2');
    expect((await sink.ledgerEtags(range)).get(B.key)).toBe('b2');
    expect(await factsOf(sink)).toEqual(factRows(all(B2)));
    // B's first file stopped being referenced when B2 replaced the row a day ahead: two hours from
    // now it is still young by that time (a reader may hold the ledger it resolved), whatever its upload time
    const v = await sink.vacuum({ olderThanMs: 3_600_000, now: Date.now() + 7_200_000, dryRun: true });
    expect(v).toMatchObject({ files: 2, referenced: 1, deleted: [], keptRecent: 1 });
    await sink.close();
  });

  it('opening for reading needs a dataset; an unreachable bucket is named', async () => {
    const empty = new ObjectParquetSink({
      bucket: BUCKET,
      prefix: 'nothing-here',
      endpoint: s3.endpoint,
      credentials: S3RVER_CREDENTIALS,
    });
    await expect(empty.init({ create: false })).rejects.toThrow(
      '--sink: parquet+s3://lake/nothing-here has no _pv_dataset.json: not a pv-pipeline dataset',
    );
    await empty.close();
    const missing = new ObjectParquetSink({
      bucket: 'no-such-bucket',
      prefix: '',
      endpoint: s3.endpoint,
      credentials: S3RVER_CREDENTIALS,
      maxAttempts: 1,
    });
    await expect(missing.init()).rejects.toThrow(/^--sink: cannot reach bucket no-such-bucket: /);
    await missing.close();
  });

  it('pv-pipeline vacuum: deletes the unreferenced files it is asked to, and refuses what it cannot vacuum', async () => {
    const prefix = 'cli';
    let armed = true;
    const sink = await openSink(prefix, (step) => {
      if (armed && step === 'files-uploaded') {
        armed = false;
        throw new Error('crash at files-uploaded');
      }
    });
    await expect(sink.commit(await manifests(A), 'run-1')).rejects.toThrow(/crash at/);
    await sink.commit(await manifests(B), 'run-2');
    await sink.close();
    const env = {
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
    };
    const url = `parquet+s3://${BUCKET}/${prefix}`;
    const kept = await runCli(['vacuum', '--sink', url, '--s3-endpoint', s3.endpoint], { env });
    expect(kept.stderr).toBe('');
    expect(kept.stdout).toBe(`${url}: 2 readings file(s), 1 referenced; deleted 0 (0.0 MB); kept 1 younger than 24h\n`);
    const r = await runCli(['vacuum', '--sink', url, '--s3-endpoint', s3.endpoint, '--older-than', '0', '--json'], {
      env,
    });
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { deleted: string[]; referenced: number; files: number };
    expect(json).toMatchObject({ files: 2, referenced: 1, keptRecent: 0, dryRun: false });
    expect(json.deleted).toHaveLength(1);
    expect(json.deleted[0]).toMatch(/^pv_readings\/ss_id=4\//);
    expect(await readingsFiles(prefix)).toHaveLength(1);

    const local = await runCli(['vacuum', '--sink', `parquet://${work}/ds`], { env });
    expect(local.code).toBe(1);
    expect(local.stderr).toMatch(
      /^pv-pipeline vacuum: --sink: parquet:\/\/.*: vacuum is for parquet\+s3:\/\/ datasets/,
    );
    const age = await runCli(['vacuum', '--sink', url, '--older-than', 'soon'], { env });
    expect(age.code).toBe(1);
    expect(age.stderr).toBe('pv-pipeline vacuum: --older-than: "soon" is not an age such as 30m, 24h or 7d (or 0)\n');
  });
});
