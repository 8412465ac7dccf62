import { describe, expect, it } from 'vitest';
import { runCli, SAMPLE_MIRROR } from '../support/cli.js';
import { freePort } from '../support/s3-server.js';

describe('BigQuery sink: an endpoint that does not answer', () => {
  it('fails fast with one line naming the sink and the reason, each retry announced as it happens', async () => {
    // a port nobody listens on: every connection is refused
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const r = await runCli(
      [
        'run',
        '--source',
        `file://${SAMPLE_MIRROR}`,
        '--systems',
        '4',
        '--from',
        '2015-06-01',
        '--to',
        '2015-06-02',
        '--sink',
        'bigquery://pv-project/warehouse',
        '--bigquery-endpoint',
        endpoint,
      ],
      { timeoutMs: 120_000 },
    );
    expect(r.code).toBe(1);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('{'));
    const retries = lines.filter((l) => / try \d+ in [\d.]+ s$/.test(l));
    // announced one by one (tries 2, 3, …), within the 15 s budget of the first contact
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(retries.map((l) => Number(/ try (\d+) in/.exec(l)![1]))).toEqual(retries.map((_, i) => i + 2));
    for (const l of retries) expect(l).toMatch(new RegExp(`^pv-pipeline run: BigQuery at ${endpoint}: .*ECONNREFUSED`));
    expect(lines.at(-1)).toMatch(
      /^pv-pipeline run: bigquery:\/\/pv-project\/warehouse: unreachable \(gave up within 15 s\): .*ECONNREFUSED/,
    );
  });
});
