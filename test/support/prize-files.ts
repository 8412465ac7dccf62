/**
 * Generates 2023 Solar Data Prize files in the exact OEDI layout, with the
 * column names of docs/pvdaq-data.md §2.5, streamed to disk so that a file of
 * any size costs no memory. Values are a deterministic function of (line,
 * column) with empty cells, `NaN` and sentinels mixed in.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** One prize CSV to generate. */
export interface PrizeFileSpec {
  /** Key relative to the mirror root, e.g. `2023-solar-data-prize/2107_OEDI/data/2107_irradiance_data.csv`. */
  key: string;
  /** Channel columns after `measured_on`. */
  columns: string[];
  /** First local time, `YYYY-MM-DD HH:MM:SS` (naive, site-local). */
  start: string;
  stepSeconds: number;
  /** Data lines. */
  lines: number;
  /** Line ending. Default `\n`. */
  eol?: string;
  /** Adds a last `notes` column (not a channel, so not loaded) holding this many characters per line. */
  padding?: number;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `YYYY-MM-DD HH:MM:SS` of epoch ms read as naive wall time. */
export function naiveText(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** The cell of (line, column): mostly numbers, some empty, `NaN`, `-999`, and negative night values. */
export function prizeCell(line: number, col: number): string {
  const h = (line * 2654435761 + col * 40503) >>> 0;
  if (h % 53 === 0) return '';
  if (h % 97 === 0) return 'NaN';
  if (h % 101 === 0) return '-999';
  return String(((h % 200_000) - 20_000) / 100);
}

/** Writes one prize CSV under `root`; returns its size in bytes. */
export async function writePrizeFile(root: string, spec: PrizeFileSpec): Promise<number> {
  const path = join(root, spec.key);
  await mkdir(dirname(path), { recursive: true });
  const out = createWriteStream(path);
  const eol = spec.eol ?? '\n';
  const t0 = Date.parse(`${spec.start.replace(' ', 'T')}Z`);
  let bytes = 0;
  const notes = spec.padding ? `,${'n'.repeat(spec.padding)}` : '';
  let buf = `measured_on,${spec.columns.join(',')}${notes ? ',notes' : ''}${eol}`;
  for (let i = 0; i < spec.lines; i++) {
    let line = naiveText(t0 + i * spec.stepSeconds * 1000);
    for (let c = 0; c < spec.columns.length; c++) line += `,${prizeCell(i, c)}`;
    buf += line + notes + eol;
    if (buf.length > 1 << 20) {
      bytes += Buffer.byteLength(buf);
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  bytes += Buffer.byteLength(buf);
  out.end(buf);
  await once(out, 'finish');
  return bytes;
}

/** Writes a prize system's `metadata/{id}_system_metadata.json`. */
export async function writePrizeMetadata(
  root: string,
  folder: string,
  ssId: number,
  doc: Record<string, unknown>,
): Promise<string> {
  const key = `2023-solar-data-prize/${folder}/metadata/${ssId}_system_metadata.json`;
  await mkdir(dirname(join(root, key)), { recursive: true });
  await writeFile(join(root, key), JSON.stringify(doc, null, 2));
  return key;
}

/**
 * A small prize mirror with the documented variety: 2107 (POSIX zone from the
 * metadata JSON, a channel with no unit anywhere, a meter channel), 9069 (units
 * in names, a per-signal file whose name has spaces, CRLF lines) and the
 * 5-minute copy of 7333 under `7333_5_min_OEDI` (system 7334).
 */
export async function writePrizeMirror(root: string, linesPerFile = 2000): Promise<PrizeFileSpec[]> {
  const P = '2023-solar-data-prize';
  await writePrizeMetadata(root, '2107_OEDI', 2107, {
    System: { system_id: 2107, public_name: 'Prize 2107', timezone_code: 'PST8PDT', power: 893 },
    Site: { location: 'CA', latitude: 37.1, longitude: -121.2, elevation: 100 },
    Mount: { 'Mount 0': { azimuth: 180, tilt: 20, tracking: 'fixed', type: 'ground' } },
    Metrics: { poa_irradiance_o_149574: { units: 'W/m^2' } },
  });
  await writePrizeMetadata(root, '9069_OEDI', 9069, {
    System: { system_id: 9069, public_name: 'Prize 9069', timezone_code: '5' },
    Site: { location: 'GA', latitude: 32.0, longitude: -84.0 },
  });
  await writePrizeMetadata(root, '7333_5_min_OEDI', 7333, {
    System: { system_id: 7333, public_name: 'Prize 7333 5 min', timezone_code: '8' },
  });
  const specs: PrizeFileSpec[] = [
    {
      key: `${P}/2107_OEDI/data/2107_irradiance_data.csv`,
      columns: ['poa_irradiance_o_149574'],
      start: '2021-03-20 00:00:00',
      stepSeconds: 60,
      lines: linesPerFile,
    },
    {
      key: `${P}/2107_OEDI/data/2107_electrical_data.csv`,
      columns: ['inv_01_ac_power_inv_149583', 'inv_02_ac_power_inv_149584'],
      start: '2021-06-01 00:00:00',
      stepSeconds: 60,
      lines: linesPerFile,
    },
    {
      key: `${P}/2107_OEDI/data/2107_meter_15m_data.csv`,
      columns: ['meter_revenue_grade_ac_output_meter_149578'],
      start: '2021-06-01 00:00:00',
      stepSeconds: 900,
      lines: Math.ceil(linesPerFile / 4),
    },
    {
      key: `${P}/9069_OEDI/data/9069_electrical_ac.csv`,
      columns: ['inverter_01_ac_power_(kw)_inv_150953', 'inverter_02_ac_power_(kw)_inv_150954'],
      start: '2022-01-01 00:00:00',
      stepSeconds: 300,
      lines: linesPerFile,
      eol: '\r\n',
    },
    {
      key: `${P}/9069_OEDI/data/9069_Combiner DC Input_01.01.01_DC CURRENT STRING 01 (A).csv`,
      columns: ['combiner_dc_input_01.01.01_dc_current_string_01_(a)_o_151942'],
      start: '2022-01-01 00:00:00',
      stepSeconds: 300,
      lines: linesPerFile,
    },
    {
      key: `${P}/7333_5_min_OEDI/data/7333_cmb_tag_list.csv_tag_group_1_20220101-20231231_recorded.csv`,
      columns: ['cmb_01_dc_current_(a)_o_160001', 'cmb_02_dc_current_(a)_o_160002', 'ambient_temp_o_160003'],
      start: '2022-01-01 00:00:00',
      stepSeconds: 300,
      lines: linesPerFile,
    },
  ];
  for (const s of specs) await writePrizeFile(root, s);
  return specs;
}

/** Fixed UTC offsets (hours behind UTC) of the mirror's systems in the months generated. */
export const PRIZE_MIRROR_OFFSETS: Readonly<Record<number, number>> = { 2107: 7, 9069: 5, 7334: 8 };

/**
 * Ground truth of one prize file by DuckDB SQL, independent of the pipeline:
 * per channel, the readings that are neither empty, NaN nor a sentinel, their
 * count, sum and first/last measured_on.
 */
export function prizeTruthSql(path: string, columns: readonly string[]): string {
  const q = (s: string) => `"${s.replaceAll('"', '""')}"`;
  const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;
  return columns
    .map(
      (c) => `SELECT ${lit(c)} AS col, count(v) AS n, round(fsum(v), 4) AS s, min(t) AS lo, max(t) AS hi FROM (
        SELECT CAST(measured_on AS TIMESTAMP) AS t, TRY_CAST(NULLIF(trim(${q(c)}), '') AS DOUBLE) AS v
        FROM read_csv(${lit(path)}, header = true, all_varchar = true)
      ) WHERE v IS NOT NULL AND NOT isnan(v) AND v NOT IN (-999, -7999, -9999, -99999)`,
    )
    .join(' UNION ALL ');
}
