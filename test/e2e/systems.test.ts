import { describe, expect, it } from 'vitest';
import { runCli, SAMPLE_MIRROR } from '../support/cli.js';

describe('pv-pipeline systems', () => {
  it('lists the systems of a source with zone, location, capacity, days, formats and channels', async () => {
    const r = await runCli(['systems', '--source', `file://${SAMPLE_MIRROR}`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { systems } = JSON.parse(r.stdout) as { systems: Array<Record<string, unknown>> };
    expect(systems).toHaveLength(13);
    expect(systems.find((s) => s.ss_id === 50)).toEqual({
      ss_id: 50,
      name: 'SERFEast',
      timezone: 'America/Denver',
      latitude: 39.742,
      longitude: -105.1727,
      capacity_kw: 6,
      first_day: '2011-11-04',
      last_day: '2022-03-20',
      formats: ['parquet', 'csv'],
      channels: 2,
    });
    const table = await runCli(['systems', '--source', `file://${SAMPLE_MIRROR}`]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ss_id\s+name\s+zone\s+lat\s+lon\s+kW\s+first\s+last\s+formats\s+channels$/);
    expect(lines.find((l) => l.startsWith('1283 '))).toMatch(
      /NREL RSF II\s+7\s+39\.7407\s+-105\.1686\s+408\s+2022-01-02\s+2022-01-07\s+parquet,csv\s+12$/,
    );
    expect(lines.at(-1)).toBe(`13 system(s) in file://${SAMPLE_MIRROR}`);
  });

  it('fails with one line naming the source when it cannot be read', async () => {
    const r = await runCli(['systems', '--source', 'ftp://nowhere/pvdaq']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^pv-pipeline systems: --source: .*ftp:\/\/nowhere/);
  });
});
