import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BadInputError } from '@pv-pipeline/core';
import { FileObjectStore } from '@pv-pipeline/pvdaq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_MIRROR } from '../support/cli.js';
import { query } from '../support/duckdb.js';
import {
  buildCorpusMirror,
  CORPUS_DIR,
  type CorpusMirror,
  type CorpusRunSummary,
  groundTruthCountsSql,
  loadCorpus,
  runCorpus,
} from '../support/hostile-corpus.js';

const corpus = loadCorpus();
const sample = SAMPLE_MIRROR.replace(/\/$/, '');

describe('the hostile-input corpus', () => {
  it('has 30+ cases, every one with an expected reason or rows, and stays small', () => {
    const bad = corpus.cases.filter((c) => c.reason);
    expect(bad.length + corpus.directKeys.length).toBeGreaterThanOrEqual(30);
    for (const c of corpus.cases) expect(Boolean(c.reason) !== Boolean(c.rows), c.id).toBe(true);
    expect(new Set(corpus.cases.map((c) => c.key)).size).toBe(corpus.cases.length);
    const bytes = readdirSync(CORPUS_DIR, { recursive: true })
      .map((f) => statSync(join(CORPUS_DIR, String(f))))
      .filter((s) => s.isFile())
      .reduce((a, s) => a + s.size, 0);
    expect(bytes).toBeLessThan(512 * 1024);
  });

  it('refuses `..`, absolute, backslash and NUL keys in the file:// store', async () => {
    const store = new FileObjectStore(sample);
    for (const c of corpus.directKeys) {
      for (const op of [() => store.getBytes(c.key, { maxBytes: 1 << 20 }), () => store.head(c.key)]) {
        const err = await op().then(
          () => null,
          (e: unknown) => e,
        );
        expect(err, c.id).toBeInstanceOf(BadInputError);
        expect((err as Error).message, c.id).toMatch(new RegExp(c.reason));
      }
    }
  });
});

for (const format of ['parquet', 'csv'] as const) {
  describe(`pv-pipeline run --format ${format} over the samples plus every ${format} case`, () => {
    const cases = corpus.cases.filter((c) => c.format === format);
    let m: CorpusMirror;
    let db: string;
    let code: number | null;
    let summary: CorpusRunSummary;
    let stderr: string;

    beforeAll(async () => {
      m = buildCorpusMirror(corpus);
      db = join(m.work, `${format}.duckdb`);
      ({ code, summary, stderr } = await runCorpus(m.mirror, format, db));
    }, 240_000);
    afterAll(() => rmSync(m.work, { recursive: true, force: true }));

    it('exits 2 with a partial run', () => {
      expect(code, stderr).toBe(2);
      expect(summary.state).toBe('partial');
    });

    for (const c of cases.filter((x) => x.reason)) {
      it(`${c.id}: ${c.title} → fails its own object with its reason`, () => {
        const f = summary.failures.find((x) => x.key === c.key);
        expect(f, `no failure for ${c.key}`).toBeDefined();
        expect(f!.reason).toMatch(new RegExp(c.reason!));
        expect(f!.reason).not.toMatch(/\n|\bat .*\.ts:\d+/); // one line, no stack
        // input bytes are echoed escaped, never raw control or undecodable characters
        expect([...f!.reason].some((ch) => ch.charCodeAt(0) < 0x20 || ch === '\ufffd')).toBe(false);
      });
    }

    it('fails nothing else, and nothing of a bad object reached the sink or the ledger', async () => {
      const badKeys = cases.filter((c) => c.reason).map((c) => c.key);
      expect(summary.failures.map((f) => f.key).sort()).toEqual([...badKeys].sort());
      const inSink = await query(
        db,
        `SELECT source_key FROM pv_readings UNION SELECT source_key FROM pv_ingest_ledger ORDER BY 1`,
      );
      const leaked = inSink.map((r) => String(r.source_key)).filter((k) => badKeys.includes(k));
      expect(leaked).toEqual([]);
    });

    it('loads every good sample object exactly (counts per object = DuckDB ground truth over the files)', async () => {
      const truth = await query(null, groundTruthCountsSql(sample, format));
      const got = await query(
        db,
        `SELECT source_key, count(*) AS n FROM pv_readings WHERE source_key IN (${truth.map((t) => `'${t.source_key}'`).join(',')}) GROUP BY ALL ORDER BY ALL`,
      );
      expect(got).toEqual(truth);
      const dup = await query(
        db,
        `SELECT count(*) AS n FROM (SELECT ss_id, timestamp, sensor FROM pv_readings GROUP BY ALL HAVING count(*) > 1)`,
      );
      expect(dup[0]!.n).toBe(0);
    });

    for (const c of cases.filter((x) => x.rows)) {
      it(`${c.id}: ${c.title} → loads exactly its rows`, async () => {
        expect(summary.failures.find((f) => f.key === c.key)).toBeUndefined();
        const rows = await query(
          db,
          `SELECT strftime(measured_on, '%Y-%m-%d %H:%M:%S') AS measured_on, sensor, value FROM pv_readings
           WHERE source_key = '${c.key}' ORDER BY measured_on`,
        );
        expect(rows).toEqual(c.rows);
        const ledger = await query(db, `SELECT rows FROM pv_ingest_ledger WHERE source_key = '${c.key}'`);
        expect(ledger).toEqual([{ rows: c.rows!.length }]);
      });
    }
  });
}
