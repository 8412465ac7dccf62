/**
 * Runs the hostile-input corpus (`test/fixtures/bad/cases.json`) through
 * `pv-pipeline run` once per format over the samples plus every case, and prints
 * the RELIABILITY.md table: each input and how it was answered. Exits 1 when a
 * case was not answered as its manifest says.
 *
 *   npm run reliability:hostile
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { FileObjectStore } from '@pv-pipeline/pvdaq';
import { SAMPLE_MIRROR } from '../test/support/cli.js';
import { query } from '../test/support/duckdb.js';
import { buildCorpusMirror, loadCorpus, runCorpus } from '../test/support/hostile-corpus.js';

const corpus = loadCorpus();
const lines: string[] = ['| # | input | run | answer |', '|---|---|---|---|'];
const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
let n = 0;
let wrong = 0;
const m = buildCorpusMirror(corpus);
try {
  for (const format of ['parquet', 'csv'] as const) {
    const db = join(m.work, `${format}.duckdb`);
    const { code, summary } = await runCorpus(m.mirror, format, db);
    process.stderr.write(
      `--format ${format}: exit ${code}, ${summary.counts.planned} planned, ${summary.counts.loaded} loaded, ${summary.counts.failed} failed, ${summary.counts.readings} readings\n`,
    );
    for (const c of corpus.cases.filter((x) => x.format === format)) {
      const failure = summary.failures.find((f) => f.key === c.key);
      let answer: string;
      let ok: boolean;
      if (c.reason) {
        ok = Boolean(failure && new RegExp(c.reason).test(failure.reason));
        answer = failure ? `failed alone: \`${failure.reason.slice(c.key.length + 2)}\`` : 'NOT FAILED';
      } else {
        const rows = await query(db, `SELECT count(*) AS n FROM pv_readings WHERE source_key = '${c.key}'`);
        ok = !failure && rows[0]!.n === c.rows!.length;
        answer = failure ? `FAILED: ${failure.reason}` : `loaded, ${rows[0]!.n} rows as expected`;
      }
      if (!ok) wrong++;
      lines.push(
        `| ${++n} | ${cell(c.title)} (\`${c.id}\`) | ${format} | ${cell(answer)}${ok ? '' : ' **UNEXPECTED**'} |`,
      );
    }
  }
  const store = new FileObjectStore(SAMPLE_MIRROR);
  for (const c of corpus.directKeys) {
    const err = await store.getBytes(c.key, { maxBytes: 1 << 20 }).then(
      () => null,
      (e: Error) => e,
    );
    const ok = Boolean(err && new RegExp(c.reason).test(err.message));
    if (!ok) wrong++;
    lines.push(
      `| ${++n} | ${cell(c.title)} (\`${c.id}\`) | store | ${err ? `refused: \`${cell(err.message.replaceAll('\0', '\\0'))}\`` : 'READ'}${ok ? '' : ' **UNEXPECTED**'} |`,
    );
  }
} finally {
  rmSync(m.work, { recursive: true, force: true });
}
process.stdout.write(`${lines.join('\n')}\n\n${n} inputs, ${n - wrong} answered as expected\n`);
process.exitCode = wrong === 0 ? 0 : 1;
