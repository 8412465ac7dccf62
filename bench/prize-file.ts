import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type PrizeFileSpec, writePrizeFile, writePrizeMetadata } from '../test/support/prize-files.js';

/**
 * The benches' large prize CSV: a 10-second, tag-group file of system 7333 in
 * the exact 2023 Solar Data Prize layout (8 channels, empty cells, NaN and
 * sentinels mixed in), with its metadata (a fixed zone, UTC−8).
 */

const MiB = 1024 * 1024;
/** Bytes per generated line (measured: timestamp + 8 cells). */
const BYTES_PER_LINE = 77;

const COLUMNS = [
  ...Array.from({ length: 4 }, (_, i) => `cmb_${String(i + 1).padStart(2, '0')}_dc_current_(a)_o_${190001 + i}`),
  ...Array.from({ length: 3 }, (_, i) => `inverter_${String(i + 1).padStart(2, '0')}_ac_power_(kw)_inv_${190101 + i}`),
  'meter_ac_energy_meter_190201',
];

/** Writes `megabytes` MiB of it under `root` (reused when a file of that size is there); returns its path. */
export async function ensurePrizeFile(root: string, megabytes: number): Promise<string> {
  const spec: PrizeFileSpec = {
    key: '2023-solar-data-prize/7333_OEDI/data/7333_cmb_tag_list.csv_tag_group_1_20220101-20231231_recorded.csv',
    columns: COLUMNS,
    start: '2022-01-01 00:00:00',
    stepSeconds: 10,
    lines: Math.round((megabytes * MiB) / BYTES_PER_LINE),
  };
  const path = join(root, spec.key);
  const marker = join(root, `.lines-${spec.lines}`);
  if (!existsSync(marker)) {
    rmSync(root, { recursive: true, force: true });
    console.log(`generating ${megabytes} MiB prize CSV …`);
    await writePrizeFile(root, spec);
    await writePrizeMetadata(root, '7333_OEDI', 7333, { System: { system_id: 7333, timezone_code: '8' } });
    mkdirSync(root, { recursive: true });
    await writeFile(marker, '');
  }
  return path;
}
