/**
 * Builds `samples/pvdaq/`: a small, deterministic mirror of `s3://oedi-data-lake/pvdaq/`
 * in the real OEDI key layout, made from the real PVDAQ excerpts in `samples/excerpts/`
 * (see `samples/README.md` for what is real and what is illustrative).
 *
 *   npx tsx scripts/build-sample-mirror.ts [outDir=samples/pvdaq] [excerptsDir=samples/excerpts]
 *
 * Relative arguments resolve against the current directory; the defaults against the
 * repository root. The output folder is deleted and rebuilt (only if it is empty or holds
 * nothing but `csv/` and `parquet/`). Everything is read and the Parquet files are written
 * with DuckDB (in-memory, no extensions installed); the CSV/JSON text is written here so that
 * its exact format (header names, empty cells, `\n`) is under our control. Same input, same
 * DuckDB version → byte-identical output.
 *
 * After writing, the script re-reads the mirror with DuckDB and checks it (counts, Parquet vs
 * CSV equality per day, the DST days of system 50); it exits non-zero if a check fails.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { SYSTEMS_INDEX_COLUMNS } from '@pv-pipeline/pvdaq';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** All excerpts carry the fixed offset −07:00 (added by pvanalytics or implied by it). */
const EXCERPT_UTC_OFFSET_HOURS = 7;

// ───────────────────────────── helpers ─────────────────────────────

/** SQL string literal. */
const lit = (s: string): string => `'${s.replaceAll("'", "''")}'`;
/** SQL identifier. */
const ident = (s: string): string => `"${s.replaceAll('"', '""')}"`;
/** A path as a SQL string literal (forward slashes). */
const pathLit = (p: string): string => lit(p.split(sep).join('/'));

/** Inclusive list of calendar days `YYYY-MM-DD` (pure UTC date arithmetic). */
function dayRange(from: string, to: string): string[] {
  const out: string[] = [];
  const end = Date.parse(`${to}T00:00:00Z`);
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= end; t += 86_400_000) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

/** CSV field, quoted only when needed. */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Number as plain text (shortest round-trip form); throws on NaN/Infinity. */
function num(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
  return String(v);
}

/**
 * SQL for the naive local wall time of a naive-UTC TIMESTAMP column, in a PVDAQ zone label:
 * a bare number N is a fixed UTC−N (standard time all year), anything else is a POSIX/IANA
 * zone resolved by DuckDB's built-in ICU (follows DST).
 */
function localSql(zone: string, utcCol: string): string {
  if (/^[+-]?\d+(\.\d+)?$/.test(zone)) {
    return `(${utcCol} - INTERVAL ${Math.round(Number(zone) * 60)} MINUTE)`;
  }
  return `timezone(${lit(zone)}, timezone('UTC', ${utcCol}))`;
}

async function rows(conn: DuckDBConnection, sql: string): Promise<unknown[][]> {
  return (await conn.runAndReadAll(sql)).getRowsJS() as unknown[][];
}

async function scalar(conn: DuckDBConnection, sql: string): Promise<unknown> {
  return (await rows(conn, sql))[0]?.[0];
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new Error(`${what}: expected text, got ${typeof v}`);
  return v;
}

function int(v: unknown, what: string): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new Error(`${what}: expected an integer, got ${String(v)}`);
}

/** Files under `dir`, as sorted `/`-separated paths relative to `dir`. */
function walk(dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) visit(p);
      else out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  visit(dir);
  return out;
}

function writeText(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

// ───────────────────────────── inputs ─────────────────────────────

/** A long, one-channel Parquet excerpt: a tz-aware timestamp column and a FLOAT column. */
interface ParquetSource {
  kind: 'parquet';
  file: string;
  systemId: number;
  tsColumn: string;
  valueColumn: string;
  metricId: number;
  sensorName: string;
}

/** A wide CSV excerpt whose columns are PVDAQ `{sensor_name}__{metric_id}` names. */
interface CsvSource {
  kind: 'csv';
  file: string;
  systemId: number;
  /** SQL giving the naive UTC TIMESTAMP from the text column `measured_on`. */
  utcSql: string;
}

type Source = ParquetSource | CsvSource;

const FIXED_LOCAL_TO_UTC = (fmt: string): string =>
  `strptime(measured_on, ${lit(fmt)}) + INTERVAL ${EXCERPT_UTC_OFFSET_HOURS} HOUR`;

const SOURCES: Source[] = [
  {
    kind: 'parquet',
    file: 'pvanalytics__system_4_module_temperature.parquet',
    systemId: 4,
    tsColumn: 'index',
    valueColumn: 'module_temp_1',
    metricId: 321,
    sensorName: 'module_temp_1',
  },
  {
    kind: 'parquet',
    file: 'pvanalytics__system_15_poa_irradiance.parquet',
    systemId: 15,
    tsColumn: 'measured_on',
    valueColumn: 'poa_irradiance__484',
    metricId: 484,
    sensorName: 'poa_irradiance',
  },
  {
    kind: 'parquet',
    file: 'pvanalytics__system_50_ac_power_2_full_DST.parquet',
    systemId: 50,
    tsColumn: 'measured_on',
    valueColumn: 'ac_power_2',
    metricId: 753, // illustrative: the excerpt renamed the column and dropped its id
    sensorName: 'ac_power_2',
  },
  {
    kind: 'csv',
    file: 'pvanalytics__serf_east_1min_ac_power.csv',
    systemId: 50,
    utcSql: `timezone('UTC', strptime(measured_on, '%Y-%m-%d %H:%M:%S%z'))`,
  },
  {
    kind: 'csv',
    file: 'pvanalytics__serf_west_15min.csv',
    systemId: 51,
    utcSql: FIXED_LOCAL_TO_UTC('%Y-%m-%d %H:%M:%S'),
  },
  {
    kind: 'csv',
    file: 'pvanalytics__nrel_RSF_II.csv',
    systemId: 1283,
    utcSql: FIXED_LOCAL_TO_UTC('%m/%d/%Y %H:%M'),
  },
];

const EXCERPT_SYSTEM_METADATA = 'pv-validation-hub__time-shift-detection__system_metadata.csv';

// ───────────────────────────── mirror systems ─────────────────────────────

interface MetricDef {
  metricId: number;
  sensorName: string;
  commonName: string;
  rawUnits: string;
  units: string;
  calcScale: number;
  calcOffset: number;
  calcDetails: string;
  aggregationType: string;
  sourceType: string;
  sourceId: number | null;
  comments: string;
  standardName: string;
}

/** Shorthand for a measured channel (scale 1, offset 0, avg). */
function m(
  metricId: number,
  sensorName: string,
  commonName: string,
  units: string,
  sourceType: string,
  sourceId: number,
  standardName: string,
  comments = '',
): MetricDef {
  return {
    metricId,
    sensorName,
    commonName,
    rawUnits: units,
    units,
    calcScale: 1,
    calcOffset: 0,
    calcDetails: '',
    aggregationType: 'avg',
    sourceType,
    sourceId,
    comments,
    standardName,
  };
}

/** Shorthand for a calculated channel that never appears in the data. */
function calc(
  metricId: number,
  sensorName: string,
  commonName: string,
  units: string,
  calcDetails: string,
  standardName: string,
): MetricDef {
  return {
    metricId,
    sensorName,
    commonName,
    rawUnits: units,
    units,
    calcScale: 1,
    calcOffset: 0,
    calcDetails,
    aggregationType: 'calculated',
    sourceType: 'calculated',
    sourceId: null,
    comments: 'mirror: illustrative calculated channel, never present in pvdata',
    standardName,
  };
}

const INV = 'Inverters';
const OTH = 'other instruments';

interface MirrorSystem {
  id: number;
  /** `timezone_or_utc_offset` in the index and `timezone_code` in the JSON. */
  zone: string;
  days: string[];
  /** Write `utc_measured_on` as NULL in every Parquet file. */
  nullUtc: boolean;
  publicName: string;
  siteId: number;
  sitePublicName: string;
  location: string;
  latitude: string;
  longitude: string;
  elevation: string;
  climate: string;
  avTemp: string;
  avPressure: string;
  areaM2: string;
  dcCapacityKw: string;
  startedOn: string;
  systemComments: string;
  mount: {
    mountId: number;
    name: string;
    manufacturer: string;
    model: string;
    azimuth: string;
    tilt: string;
    tracking: string;
    type: string;
    comments: string;
  };
  metrics: MetricDef[];
}

const MIRROR_SYSTEMS: MirrorSystem[] = [
  {
    id: 4,
    zone: '7',
    days: dayRange('2015-06-01', '2015-06-07'),
    nullUtc: true,
    publicName: 'Sanyo1',
    siteId: 10,
    sitePublicName: 'NREL Outdoor Test Facility',
    location: 'Golden, CO',
    latitude: '39.7406',
    longitude: '-105.1774',
    elevation: '1795.3',
    climate: 'BSk',
    avTemp: '10.4',
    avPressure: '11.85',
    areaM2: '7.1',
    dcCapacityKw: '1',
    startedOn: '2007-08-14 00:00:00',
    systemComments: '',
    mount: {
      mountId: 40,
      name: 'Mount 0',
      manufacturer: '',
      model: '',
      azimuth: '180',
      tilt: '40',
      tracking: 'fixed',
      type: 'ground',
      comments: '',
    },
    metrics: [
      m(321, 'module_temp_1', 'Temperature module', 'C', OTH, 4003, 'module_temperature'),
      m(315, 'ac_power', 'AC power', 'W', INV, 4001, 'ac_power'),
      calc(90004, 'ac_energy_calc', 'AC energy', 'Wh', 'integral of ac_power__315', 'ac_energy'),
    ],
  },
  {
    id: 15,
    zone: '7',
    days: dayRange('2019-03-18', '2019-03-24'),
    nullUtc: false,
    publicName: 'NREL Golden System 15',
    siteId: 10,
    sitePublicName: 'NREL Outdoor Test Facility',
    location: 'Golden, CO',
    latitude: '39.7406',
    longitude: '-105.1774',
    elevation: '1795.3',
    climate: 'BSk',
    avTemp: '10.4',
    avPressure: '11.85',
    areaM2: '',
    dcCapacityKw: '2.2',
    startedOn: '2010-03-01 00:00:00',
    systemComments: '',
    mount: {
      mountId: 150,
      name: 'Mount 0',
      manufacturer: '',
      model: '',
      azimuth: '180',
      tilt: '40',
      tracking: 'fixed',
      type: 'ground',
      comments: '',
    },
    metrics: [
      m(484, 'poa_irradiance', 'Irradiance POA', 'W/m^2', OTH, 1501, 'poa_irradiance'),
      calc(90015, 'dc_power_calc', 'DC power', 'W', 'dc_voltage * dc_current', 'dc_power'),
    ],
  },
  {
    id: 50,
    zone: 'America/Denver',
    days: [
      ...dayRange('2011-11-04', '2011-11-08'),
      ...dayRange('2012-03-10', '2012-03-12'),
      ...dayRange('2022-03-18', '2022-03-19'),
    ],
    nullUtc: false,
    publicName: 'SERFEast',
    siteId: 22,
    sitePublicName: 'NREL SERF',
    location: 'Golden, CO',
    latitude: '39.742',
    longitude: '-105.1727',
    elevation: '1994.7',
    climate: 'BSk',
    avTemp: '10.4',
    avPressure: '11.85',
    areaM2: '42.5',
    dcCapacityKw: '6',
    startedOn: '1994-05-01 00:00:00',
    systemComments: 'SERF East roof array',
    mount: {
      mountId: 500,
      name: 'Mount 0',
      manufacturer: '',
      model: '',
      azimuth: '158',
      tilt: '45',
      tracking: 'fixed',
      type: 'roof',
      comments: '',
    },
    metrics: [
      m(752, 'ac_power', 'AC power', 'W', INV, 5001, 'ac_power'),
      m(
        753,
        'ac_power_2',
        'AC power',
        'W',
        INV,
        5002,
        'ac_power',
        'mirror: invented metric id for the column renamed ac_power_2 in the pvanalytics excerpt',
      ),
      calc(90050, 'inv_total_ac_power', 'AC power', 'W', 'ac_power__752 + ac_power_2__753', 'ac_power'),
    ],
  },
  {
    id: 51,
    zone: 'MST7MDT',
    days: dayRange('2022-01-02', '2022-01-06'),
    nullUtc: false,
    publicName: 'SERFWest',
    siteId: 22,
    sitePublicName: 'NREL SERF',
    location: 'Golden, CO',
    latitude: '39.742',
    longitude: '-105.1727',
    elevation: '1994.7',
    climate: 'BSk',
    avTemp: '10.4',
    avPressure: '11.85',
    areaM2: '',
    dcCapacityKw: '6',
    startedOn: '1994-05-01 00:00:00',
    systemComments: 'SERF West roof array',
    mount: {
      mountId: 510,
      name: 'Mount 0',
      manufacturer: '',
      model: '',
      azimuth: '202',
      tilt: '45',
      tracking: 'fixed',
      type: 'roof',
      comments: '',
    },
    metrics: [
      m(771, 'poa_irradiance', 'Irradiance POA', 'W/m^2', OTH, 5103, 'poa_irradiance'),
      m(772, 'dc_power', 'DC power', 'W', INV, 5101, 'dc_power'),
      m(773, 'ac_power', 'AC power', 'W', INV, 5101, 'ac_power'),
      m(774, 'dc_pos_voltage', 'DC voltage', 'V', INV, 5101, 'dc_voltage'),
      m(775, 'dc_pos_current', 'DC current', 'A', INV, 5101, 'dc_current'),
      m(776, 'dc_neg_voltage', 'DC voltage', 'V', INV, 5101, 'dc_voltage'),
      m(777, 'dc_neg_current', 'DC current', 'A', INV, 5101, 'dc_current'),
      m(778, 'ac_volts', 'AC voltage', 'V', INV, 5101, 'ac_voltage'),
      m(779, 'ac_current', 'AC current', 'A', INV, 5101, 'ac_current'),
      m(780, 'ambient_temp', 'Temperature ambient', 'C', OTH, 5104, 'ambient_temperature'),
      m(781, 'module_temp_1', 'Temperature module', 'C', OTH, 5105, 'module_temperature'),
      m(782, 'module_temp_2', 'Temperature module', 'C', OTH, 5105, 'module_temperature'),
      m(783, 'module_temp_3', 'Temperature module', 'C', OTH, 5105, 'module_temperature'),
      m(784, 'inveter_temp', 'Temperature inverter', 'C', INV, 5101, 'inverter_temperature'),
      m(785, 'das_temperature', 'Temperature other', 'C', OTH, 5106, 'das_temperature'),
      calc(90051, 'inv_efficiency_calc', 'AC other', '%', '100 * ac_power__773 / dc_power__772', ''),
    ],
  },
  {
    id: 1283,
    zone: '7',
    days: dayRange('2022-01-02', '2022-01-06'),
    nullUtc: false,
    publicName: 'NREL RSF II',
    siteId: 38,
    sitePublicName: 'NREL Research Support Facility',
    location: 'Golden, CO',
    latitude: '39.7407',
    longitude: '-105.1686',
    elevation: '1790',
    climate: 'BSk',
    avTemp: '10.4',
    avPressure: '',
    areaM2: '',
    dcCapacityKw: '408',
    startedOn: '2011-10-01 00:00:00',
    systemComments: '',
    mount: {
      mountId: 12830,
      name: 'Mount 0',
      manufacturer: '',
      model: '',
      azimuth: '180',
      tilt: '10',
      tracking: 'fixed',
      type: 'roof',
      comments: '',
    },
    metrics: [
      m(1047, 'inv2_ac_power_w', 'AC power', 'W', INV, 12802, 'ac_power'),
      m(1048, 'inv2_dc_voltage', 'DC voltage', 'V', INV, 12802, 'dc_voltage'),
      m(1049, 'inv2_dc_current', 'DC current', 'A', INV, 12802, 'dc_current'),
      m(1050, 'inv2_temp', 'Temperature inverter', 'C', INV, 12802, 'inverter_temperature'),
      m(1051, 'wind_speed', 'Wind speed', 'm/s', OTH, 12805, 'wind_speed'),
      m(1052, 'refcell_temp', 'Temperature other', 'C', OTH, 12804, 'reference_cell_temperature'),
      m(1053, 'ambient_temp', 'Temperature ambient', 'C', OTH, 12805, 'ambient_temperature'),
      m(1054, 'poa_irradiance_refcell', 'Irradiance POA', 'W/m^2', OTH, 12804, 'poa_irradiance'),
      m(1055, 'poa_irradiance', 'Irradiance POA', 'W/m^2', OTH, 12803, 'poa_irradiance'),
      m(1056, 'module_temp', 'Temperature module', 'C', OTH, 12806, 'module_temperature'),
      m(1135, 'inv2_dc_power', 'DC power', 'W', INV, 12802, 'dc_power'),
      m(1137, 'ac_power_kw', 'AC power', 'kW', INV, 12801, 'ac_power'),
      m(1046, 'relative_humidity', 'Humidity', '%', OTH, 12805, 'relative_humidity'),
      calc(91283, 'dc_power_total', 'DC power', 'W', 'sum of inverter dc_power channels', 'dc_power'),
    ],
  },
];

// ───────────────────────────── systems index ─────────────────────────────

const INDEX_COLUMNS = SYSTEMS_INDEX_COLUMNS;
type IndexColumn = (typeof INDEX_COLUMNS)[number];
type IndexRow = Record<IndexColumn, string>;
const UNNAMED_COLUMNS = [26, 27, 28, 29, 30].map((i) => `Unnamed: ${i}`);

/** Illustrative PV climate zones per Köppen–Geiger class. */
const PVCZ: Record<string, [string, string, string, string, string]> = {
  BSk: ['T4:H1', 'T4', 'T5', 'H1', 'W2'],
  BWh: ['T9:H1', 'T9', 'T10', 'H1', 'W1'],
  Cfa: ['T6:H4', 'T6', 'T7', 'H4', 'W1'],
  Dfb: ['T3:H3', 'T3', 'T4', 'H3', 'W1'],
};

/** Index-only systems from the pv-validation-hub excerpt (no pvdata in the mirror). */
const OTHER_INDEX_SYSTEMS: Record<
  number,
  {
    location: string;
    zone: string;
    type: string;
    first: string;
    last: string;
    records: string;
    sizeMb: string;
    channels: string;
    qa: [string, string];
  }
> = {
  1229: {
    location: 'Lakeland, FL',
    zone: '5',
    type: 'roof',
    first: '01/01/2012 00:00',
    last: '12/31/2014 23:45',
    records: '105120',
    sizeMb: '9.8',
    channels: '9',
    qa: ['pass', ''],
  },
  1332: {
    location: 'Golden, CO',
    zone: '7',
    type: 'roof',
    first: '06/01/2017 00:00',
    last: '07/29/2025 23:59',
    records: '17356320',
    sizeMb: '2412.6',
    channels: '26',
    qa: ['pass', ''],
  },
  1333: {
    location: 'Golden, CO',
    zone: '7',
    type: 'roof',
    first: '06/01/2017 00:00',
    last: '07/29/2025 23:59',
    records: '4339080',
    sizeMb: '611.3',
    channels: '12',
    qa: [
      'fail',
      'Filtered time series less than 1.0 years data, Wrong mounting config identified. Please manually review.',
    ],
  },
  1422: {
    location: 'Williston, VT',
    zone: '5',
    type: 'ground',
    first: '01/01/2012 00:00',
    last: '12/31/2016 23:59',
    records: '2629440',
    sizeMb: '188.2',
    channels: '11',
    qa: ['pass', ''],
  },
  1423: {
    location: 'Henderson, NV',
    zone: '8',
    type: 'ground',
    first: '01/01/2012 00:00',
    last: '12/31/2016 23:59',
    records: '2629440',
    sizeMb: '190.7',
    channels: '11',
    qa: ['pass', ''],
  },
  4901: {
    location: 'Gaithersburg, MD',
    zone: '5',
    type: 'canopy',
    first: '01/01/2015 00:00',
    last: '12/31/2017 23:59',
    records: '1577880',
    sizeMb: '320.4',
    channels: '19',
    qa: ['pass', ''],
  },
  4902: {
    location: 'Gaithersburg, MD',
    zone: '5',
    type: 'ground',
    first: '01/01/2015 00:00',
    last: '12/31/2017 23:59',
    records: '1577880',
    sizeMb: '331.9',
    channels: '19',
    qa: ['pass', ''],
  },
  4903: {
    location: 'Gaithersburg, MD',
    zone: '5',
    type: 'roof',
    first: '01/01/2015 00:00',
    last: '12/31/2017 23:59',
    records: '1577880',
    sizeMb: '118.5',
    channels: '14',
    qa: ['pass', ''],
  },
};

/** Site ids for `systems.csv` (illustrative). */
const OTHER_SITE_IDS: Record<number, number> = {
  1229: 1229,
  1332: 46,
  1333: 46,
  1422: 1422,
  1423: 1423,
  4901: 49,
  4902: 49,
  4903: 49,
};

// ───────────────────────────── build ─────────────────────────────

function parseArgs(): { outDir: string; excerptsDir: string } {
  const [out, exc] = process.argv.slice(2);
  return {
    outDir: out ? resolve(out) : join(REPO_ROOT, 'samples', 'pvdaq'),
    excerptsDir: exc ? resolve(exc) : join(REPO_ROOT, 'samples', 'excerpts'),
  };
}

function prepareOutDir(outDir: string): void {
  if (existsSync(outDir)) {
    const entries = readdirSync(outDir);
    const foreign = entries.filter((e) => e !== 'csv' && e !== 'parquet');
    if (foreign.length > 0) {
      throw new Error(`refusing to rebuild ${outDir}: it holds ${foreign.join(', ')} (not a mirror folder)`);
    }
    rmSync(outDir, { recursive: true, force: true });
  }
  mkdirSync(outDir, { recursive: true });
}

/** Loads every excerpt into `raw` (naive UTC timestamps, NULL for a missing reading). */
async function loadExcerpts(conn: DuckDBConnection, excerptsDir: string): Promise<void> {
  await conn.run(`CREATE TABLE raw (
    system_id INTEGER, csv_col VARCHAR, sensor_name VARCHAR, metric_id INTEGER,
    utc TIMESTAMP, value DOUBLE, source VARCHAR)`);
  for (const src of SOURCES) {
    const path = pathLit(join(excerptsDir, src.file));
    if (src.kind === 'parquet') {
      const v = ident(src.valueColumn);
      // FLOAT → shortest decimal text → DOUBLE, so 23.4f is stored as 23.4, not 23.399999618530273.
      await conn.run(`INSERT INTO raw SELECT
          ${src.systemId}, ${lit(`${src.sensorName}__${src.metricId}`)}, ${lit(src.sensorName)}, ${src.metricId},
          timezone('UTC', ${ident(src.tsColumn)}),
          CASE WHEN isnan(${v}) THEN NULL ELSE CAST(CAST(${v} AS VARCHAR) AS DOUBLE) END,
          ${lit(src.file)}
        FROM read_parquet(${path})`);
      continue;
    }
    const header = readFileSync(join(excerptsDir, src.file), 'utf8').split(/\r?\n/, 1)[0] ?? '';
    const names = header.split(',');
    const channels = names.slice(1);
    const columns = [`'measured_on': 'VARCHAR'`, ...channels.map((c) => `${lit(c)}: 'DOUBLE'`)].join(', ');
    await conn.run(`CREATE OR REPLACE TEMP TABLE wide AS SELECT * FROM read_csv(${path},
        header = true, delim = ',', quote = '"', auto_detect = false, columns = {${columns}})`);
    if (src.file.includes('serf_east_1min')) {
      const bad = await scalar(conn, `SELECT count(*) FROM wide WHERE NOT ends_with(measured_on, '-07:00')`);
      if (int(bad, 'offset check') !== 0) throw new Error(`${src.file}: offsets other than -07:00`);
    }
    for (const c of channels) {
      await conn.run(`INSERT INTO raw SELECT
          ${src.systemId}, ${lit(c)},
          regexp_extract(${lit(c)}, '^(.+?)_{1,2}(\\d+)$', 1),
          CAST(regexp_extract(${lit(c)}, '^(.+?)_{1,2}(\\d+)$', 2) AS INTEGER),
          ${src.utcSql}, CASE WHEN isnan(${ident(c)}) THEN NULL ELSE ${ident(c)} END, ${lit(src.file)}
        FROM wide`);
    }
  }
  const badTs = await scalar(conn, 'SELECT count(*) FROM raw WHERE utc IS NULL OR metric_id IS NULL');
  if (int(badTs, 'raw check') !== 0) throw new Error('unparsed timestamps or metric ids in the excerpts');
}

/**
 * Builds `mirror`: the readings of the chosen local days, with their local wall time and how a
 * missing reading is written to Parquet: `nan` (a row with value NaN) or `absent` (no row),
 * alternating over the missing readings of each system in time order.
 */
async function selectMirror(conn: DuckDBConnection): Promise<void> {
  const localCase = MIRROR_SYSTEMS.map((s) => `WHEN ${s.id} THEN ${localSql(s.zone, 'utc')}`).join(' ');
  const dayFilter = MIRROR_SYSTEMS.map(
    (s) => `(system_id = ${s.id} AND local_day IN (${s.days.map(lit).join(', ')}))`,
  ).join(' OR ');
  await conn.run(`CREATE TABLE mirror AS
    WITH l AS (
      SELECT *, CAST(CASE system_id ${localCase} END AS TIMESTAMP) AS local_ts FROM raw
    ), d AS (
      SELECT *, strftime(local_ts, '%Y-%m-%d') AS local_day FROM l
    ), f AS (
      SELECT * FROM d WHERE ${dayFilter}
    )
    SELECT *,
      CASE WHEN value IS NOT NULL THEN 'ok'
           WHEN row_number() OVER (PARTITION BY system_id, value IS NULL ORDER BY utc, metric_id) % 2 = 1
             THEN 'nan'
           ELSE 'absent' END AS kind
    FROM f`);
  const dup = await scalar(
    conn,
    'SELECT count(*) FROM (SELECT 1 FROM mirror GROUP BY system_id, utc, metric_id HAVING count(*) > 1)',
  );
  if (int(dup, 'duplicate check') !== 0) throw new Error('duplicate (system, utc, metric) readings');
  for (const s of MIRROR_SYSTEMS) {
    const present = await rows(
      conn,
      `SELECT DISTINCT metric_id, sensor_name FROM mirror WHERE system_id = ${s.id} ORDER BY 1`,
    );
    for (const [id, name] of present) {
      const def = s.metrics.find((x) => x.metricId === int(id, 'metric_id'));
      if (!def || def.sensorName !== name) {
        throw new Error(`system ${s.id}: channel ${String(name)}__${String(id)} missing from its dictionary`);
      }
    }
    for (const day of s.days) {
      const n = await scalar(conn, `SELECT count(*) FROM mirror WHERE system_id = ${s.id} AND local_day = '${day}'`);
      if (int(n, 'day count') === 0) throw new Error(`system ${s.id}: no readings on ${day}`);
    }
  }
}

function dayKeys(systemId: number, day: string): { parquet: string; csv: string } {
  const [y, mo, d] = day.split('-') as [string, string, string];
  const part = `system_id=${systemId}/year=${y}/month=${Number(mo)}/day=${Number(d)}`;
  const base = `system_${systemId}__date_${y}_${mo}_${d}`;
  return {
    parquet: `parquet/pvdata/${part}/${base}.snappy.000.parquet`,
    csv: `csv/pvdata/${part}/${base}.csv`,
  };
}

async function writeDailyFiles(conn: DuckDBConnection, outDir: string): Promise<void> {
  for (const s of MIRROR_SYSTEMS) {
    for (const day of s.days) {
      const keys = dayKeys(s.id, day);
      const where = `system_id = ${s.id} AND local_day = '${day}'`;

      // Parquet: long, ordered by measured_on (then UTC, which splits the repeated fall-back hour), metric.
      const pq = join(outDir, keys.parquet);
      mkdirSync(dirname(pq), { recursive: true });
      const utcExpr = s.nullUtc ? 'CAST(NULL AS TIMESTAMP)' : 'CAST(utc AS TIMESTAMP)';
      await conn.run(`COPY (
          SELECT CAST(local_ts AS TIMESTAMP) AS measured_on,
                 ${utcExpr} AS utc_measured_on,
                 CAST(metric_id AS INTEGER) AS metric_id,
                 CAST(CASE WHEN kind = 'nan' THEN 'NaN'::DOUBLE ELSE value END AS DOUBLE) AS value
          FROM mirror WHERE ${where} AND kind <> 'absent'
          ORDER BY local_ts, utc, metric_id
        ) TO ${pathLit(pq)} (FORMAT parquet, COMPRESSION snappy)`);

      // CSV: wide, one row per source timestamp in recording (UTC) order, empty cell = missing.
      const cells = await rows(
        conn,
        `SELECT strftime(local_ts, '%Y-%m-%d %H:%M:%S'), strftime(utc, '%Y-%m-%d %H:%M:%S'), csv_col,
                CASE WHEN kind = 'ok' THEN value END
         FROM mirror WHERE ${where} ORDER BY utc, csv_col`,
      );
      const cols = [...new Set(cells.map((r) => str(r[2], 'csv_col')))].sort();
      const byUtc = new Map<string, { local: string; values: Map<string, string> }>();
      for (const [local, utc, col, value] of cells) {
        const key = str(utc, 'utc');
        let row = byUtc.get(key);
        if (!row) {
          row = { local: str(local, 'measured_on'), values: new Map() };
          byUtc.set(key, row);
        }
        row.values.set(str(col, 'csv_col'), value === null ? '' : num(value as number));
      }
      const lines = [['measured_on', ...cols, 'system_id'].map(csvField).join(',')];
      for (const row of byUtc.values()) {
        lines.push([row.local, ...cols.map((c) => row.values.get(c) ?? ''), String(s.id)].join(','));
      }
      writeText(join(outDir, keys.csv), `${lines.join('\n')}\n`);
    }
  }
}

type Cell = string | number | null;

/** Writes a small table to Parquet via DuckDB: CREATE + INSERT literals + COPY. */
async function writeTable(
  conn: DuckDBConnection,
  path: string,
  columns: [string, 'VARCHAR' | 'BIGINT' | 'INTEGER' | 'DOUBLE'][],
  data: Cell[][],
): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await conn.run(`CREATE OR REPLACE TEMP TABLE t (${columns.map(([n, ty]) => `${ident(n)} ${ty}`).join(', ')})`);
  for (const r of data) {
    const vals = r.map((v, i) => {
      if (v === null) return 'NULL';
      if (columns[i]?.[1] === 'VARCHAR') return lit(String(v));
      if (typeof v !== 'number') throw new Error(`${path}: ${columns[i]?.[0]} is not a number`);
      return String(v);
    });
    await conn.run(`INSERT INTO t VALUES (${vals.join(', ')})`);
  }
  await conn.run(`COPY (SELECT * FROM t) TO ${pathLit(path)} (FORMAT parquet, COMPRESSION snappy)`);
}

async function writeMetrics(conn: DuckDBConnection, outDir: string): Promise<void> {
  for (const s of MIRROR_SYSTEMS) {
    const defs = [...s.metrics].sort((a, b) => a.metricId - b.metricId);
    await writeTable(
      conn,
      join(outDir, `parquet/metrics/metrics__system_${s.id}__part000.parquet`),
      [
        ['system_id', 'INTEGER'],
        ['metric_id', 'INTEGER'],
        ['sensor_name', 'VARCHAR'],
        ['common_name', 'VARCHAR'],
        ['raw_units', 'VARCHAR'],
        ['units', 'VARCHAR'],
        ['calc_scale', 'DOUBLE'],
        ['calc_offset', 'DOUBLE'],
        ['calc_details', 'VARCHAR'],
        ['aggregation_type', 'VARCHAR'],
        ['source_type', 'VARCHAR'],
        ['source_id', 'INTEGER'],
        ['comments', 'VARCHAR'],
        ['standard_name', 'VARCHAR'],
      ],
      defs.map((d) => [
        s.id,
        d.metricId,
        d.sensorName,
        d.commonName,
        d.rawUnits,
        d.units,
        d.calcScale,
        d.calcOffset,
        d.calcDetails,
        d.aggregationType,
        d.sourceType,
        d.sourceId,
        d.comments,
        d.standardName,
      ]),
    );
  }
}

async function writeMetadataTables(conn: DuckDBConnection, outDir: string): Promise<void> {
  const V = 'VARCHAR' as const;
  await writeTable(
    conn,
    join(outDir, 'parquet/site/site.snappy.parquet'),
    [
      ['av_pressure', V],
      ['av_temp', V],
      ['climate_type', V],
      ['elevation', V],
      ['latitude', V],
      ['location', V],
      ['longitude', V],
      ['public_name', V],
      ['site_id', V],
      ['system_id', 'BIGINT'],
    ],
    MIRROR_SYSTEMS.map((s) => [
      s.avPressure,
      s.avTemp,
      s.climate,
      s.elevation,
      s.latitude,
      s.location,
      s.longitude,
      s.sitePublicName,
      String(s.siteId),
      s.id,
    ]),
  );
  await writeTable(
    conn,
    join(outDir, 'parquet/system/system.snappy.parquet'),
    [
      ['area', V],
      ['comments', V],
      ['ended_on', V],
      ['power', V],
      ['public_name', V],
      ['site_id', 'BIGINT'],
      ['started_on', V],
      ['system_id', 'BIGINT'],
    ],
    MIRROR_SYSTEMS.map((s) => [
      s.areaM2,
      s.systemComments,
      '',
      s.dcCapacityKw,
      s.publicName,
      s.siteId,
      s.startedOn,
      s.id,
    ]),
  );
  await writeTable(
    conn,
    join(outDir, 'parquet/mount/mount.snappy.parquet'),
    [
      ['mount_id', 'BIGINT'],
      ['name', V],
      ['manufacturer', V],
      ['model', V],
      ['azimuth', V],
      ['tilt', V],
      ['tracking', V],
      ['type', V],
      ['site_id', V],
      ['system_id', V],
      ['comments', V],
    ],
    MIRROR_SYSTEMS.map((s) => [
      s.mount.mountId,
      s.mount.name,
      s.mount.manufacturer,
      s.mount.model,
      s.mount.azimuth,
      s.mount.tilt,
      s.mount.tracking,
      s.mount.type,
      String(s.siteId),
      String(s.id),
      s.mount.comments,
    ]),
  );
}

function writeSystemJson(outDir: string): void {
  for (const s of MIRROR_SYSTEMS) {
    const doc = {
      System: {
        system_id: String(s.id),
        site_id: String(s.siteId),
        public_name: s.publicName,
        area: s.areaM2,
        power: s.dcCapacityKw,
        started_on: s.startedOn,
        ended_on: '',
        timezone_code: s.zone,
        comments: s.systemComments,
      },
      Site: {
        site_id: String(s.siteId),
        public_name: s.sitePublicName,
        location: s.location,
        latitude: s.latitude,
        longitude: s.longitude,
        elevation: s.elevation,
        climate_type: s.climate,
        av_temp: s.avTemp,
        av_pressure: s.avPressure,
      },
      Mount: {
        'Mount 0': {
          mount_id: String(s.mount.mountId),
          name: s.mount.name,
          manufacturer: s.mount.manufacturer,
          model: s.mount.model,
          azimuth: s.mount.azimuth,
          tilt: s.mount.tilt,
          tracking: s.mount.tracking,
          type: s.mount.type,
          comments: s.mount.comments,
        },
      },
    };
    writeText(join(outDir, `csv/system_metadata/${s.id}_system_metadata.json`), `${JSON.stringify(doc, null, 2)}\n`);
  }
}

/** One row of the pv-validation-hub metadata excerpt. */
interface HubRow {
  system_id: string;
  name: string;
  azimuth: string;
  tilt: string;
  elevation: string;
  latitude: string;
  longitude: string;
  tracking: string;
  climate_type: string;
  dc_capacity: string;
}

function readHub(excerptsDir: string): Map<number, HubRow> {
  const text = readFileSync(join(excerptsDir, EXCERPT_SYSTEM_METADATA), 'utf8');
  const [head, ...body] = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const names = (head ?? '').split(',');
  const out = new Map<number, HubRow>();
  for (const line of body) {
    const vals = line.split(',');
    if (vals.length !== names.length) throw new Error(`${EXCERPT_SYSTEM_METADATA}: bad line ${line}`);
    const row = Object.fromEntries(names.map((n, i) => [n, vals[i] ?? ''])) as unknown as HubRow;
    out.set(Number(row.system_id), row);
  }
  return out;
}

function tracking(hub: string): string {
  return hub.toUpperCase() === 'FALSE' ? 'fixed' : 'single_axis';
}

async function writeSystemsIndexes(conn: DuckDBConnection, outDir: string, excerptsDir: string): Promise<void> {
  const hub = readHub(excerptsDir);
  const indexRows: IndexRow[] = [];

  const stats = await rows(
    conn,
    `SELECT system_id,
            strftime(min(local_ts), '%m/%d/%Y %H:%M'), strftime(max(local_ts), '%m/%d/%Y %H:%M'),
            date_diff('day', min(local_ts), max(local_ts)),
            count(DISTINCT utc), count(DISTINCT metric_id)
     FROM mirror GROUP BY system_id ORDER BY system_id`,
  );
  const csvBytes = new Map<number, number>();
  for (const s of MIRROR_SYSTEMS) {
    let bytes = 0;
    for (const day of s.days) bytes += statSync(join(outDir, dayKeys(s.id, day).csv)).size;
    csvBytes.set(s.id, bytes);
  }
  for (const s of MIRROR_SYSTEMS) {
    const st = stats.find((r) => int(r[0], 'system_id') === s.id);
    if (!st) throw new Error(`no stats for system ${s.id}`);
    const h = hub.get(s.id);
    const pvcz = PVCZ[s.climate] ?? ['', '', '', '', ''];
    indexRows.push({
      system_id: String(s.id),
      system_public_name: s.publicName,
      site_location: s.location,
      timezone_or_utc_offset: s.zone,
      latitude: h?.latitude ?? s.latitude,
      longitude: h?.longitude ?? s.longitude,
      elevation_m: h?.elevation ?? s.elevation,
      dc_capacity_kW: h?.dc_capacity ?? s.dcCapacityKw,
      kg_climate: h?.climate_type ?? s.climate,
      pvcz_composite: pvcz[0],
      pvcz_t_rack: pvcz[1],
      pvcz_t_roof: pvcz[2],
      pvcz_humidity: pvcz[3],
      pvcz_wind: pvcz[4],
      tracking: h ? tracking(h.tracking) : s.mount.tracking,
      type: s.mount.type,
      azimuth: h?.azimuth ?? s.mount.azimuth,
      tilt: h?.tilt ?? s.mount.tilt,
      first_timestamp: str(st[1], 'first'),
      last_timestamp: str(st[2], 'last'),
      years: String(Math.round((int(st[3], 'days') / 365.25) * 100) / 100),
      number_records: String(int(st[4], 'records')),
      dataset_size_mb: String(Math.round((csvBytes.get(s.id) ?? 0) / 1000) / 1000),
      available_sensor_channels: String(int(st[5], 'channels')),
      qa_status: 'pass',
      qa_issue: '',
    });
  }
  for (const [idText, o] of Object.entries(OTHER_INDEX_SYSTEMS)) {
    const id = Number(idText);
    const h = hub.get(id);
    if (!h) throw new Error(`system ${id} missing from ${EXCERPT_SYSTEM_METADATA}`);
    const pvcz = PVCZ[h.climate_type] ?? ['', '', '', '', ''];
    const base: IndexRow = {
      system_id: String(id),
      system_public_name: id === 1332 ? 'NREL Parking Garage' : h.name,
      site_location: o.location,
      timezone_or_utc_offset: o.zone,
      latitude: h.latitude,
      longitude: h.longitude,
      elevation_m: h.elevation,
      dc_capacity_kW: h.dc_capacity,
      kg_climate: h.climate_type,
      pvcz_composite: pvcz[0],
      pvcz_t_rack: pvcz[1],
      pvcz_t_roof: pvcz[2],
      pvcz_humidity: pvcz[3],
      pvcz_wind: pvcz[4],
      tracking: tracking(h.tracking),
      type: o.type,
      azimuth: h.azimuth,
      tilt: h.tilt,
      first_timestamp: o.first,
      last_timestamp: o.last,
      years: String(
        Math.round(((Date.parse(toIso(o.last)) - Date.parse(toIso(o.first))) / 86_400_000 / 365.25) * 100) / 100,
      ),
      number_records: o.records,
      dataset_size_mb: o.sizeMb,
      available_sensor_channels: o.channels,
      qa_status: o.qa[0],
      qa_issue: o.qa[1],
    };
    indexRows.push(base);
    if (id === 1332) {
      // One row per array orientation: 1332's second mount is the tilt-60 array (1333's values).
      const second = hub.get(1333);
      if (!second) throw new Error('system 1333 missing from the pv-validation-hub excerpt');
      indexRows.push({ ...base, azimuth: second.azimuth, tilt: second.tilt });
    }
  }
  indexRows.sort((a, b) => Number(a.system_id) - Number(b.system_id)); // stable: 1332 keeps its order

  const renderIndex = (rs: IndexRow[]): string => {
    const lines = [[...INDEX_COLUMNS, ...UNNAMED_COLUMNS].map(csvField).join(',')];
    for (const r of rs) {
      lines.push([...INDEX_COLUMNS.map((c) => csvField(r[c])), ...UNNAMED_COLUMNS.map(() => '')].join(','));
    }
    return `${lines.join('\n')}\n`;
  };
  writeText(join(outDir, 'csv/systems_20250729.csv'), renderIndex(indexRows));
  writeText(
    join(outDir, 'csv/systems_20241231.csv'),
    renderIndex(
      indexRows
        .filter((r) => r.system_id === '4' || r.system_id === '50')
        .map((r) => ({ ...r, system_public_name: `${r.system_public_name} (2024 snapshot)` })),
    ),
  );

  // Older, narrower systems.csv: one row per system.
  const narrow = [
    'system_id,system_public_name,site_id,site_public_name,site_location,site_latitude,site_longitude,site_elevation',
  ];
  const seen = new Set<string>();
  for (const r of indexRows) {
    if (seen.has(r.system_id)) continue;
    seen.add(r.system_id);
    const ms = MIRROR_SYSTEMS.find((s) => String(s.id) === r.system_id);
    const siteId = ms ? ms.siteId : (OTHER_SITE_IDS[Number(r.system_id)] ?? Number(r.system_id));
    const siteName = ms ? ms.sitePublicName : r.system_public_name;
    narrow.push(
      [
        r.system_id,
        r.system_public_name,
        String(siteId),
        siteName,
        r.site_location,
        r.latitude,
        r.longitude,
        r.elevation_m,
      ]
        .map(csvField)
        .join(','),
    );
  }
  writeText(join(outDir, 'csv/systems.csv'), `${narrow.join('\n')}\n`);
}

/** `%m/%d/%Y %H:%M` → ISO (UTC) for date arithmetic. */
function toIso(mdy: string): string {
  const mm = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2})$/.exec(mdy);
  if (!mm) throw new Error(`bad timestamp ${mdy}`);
  return `${mm[3]}-${mm[1]}-${mm[2]}T${mm[4]}:${mm[5]}:00Z`;
}

// ───────────────────────────── verify ─────────────────────────────

async function verify(conn: DuckDBConnection, outDir: string): Promise<boolean> {
  let ok = true;
  const fail = (msg: string): void => {
    ok = false;
    console.error(`FAIL: ${msg}`);
  };
  const g = (rel: string): string => pathLit(join(outDir, rel));

  console.log('\n== objects per prefix (DuckDB glob) ==');
  const files = walk(outDir);
  const prefixes: [string, string][] = [
    ['parquet/pvdata/', 'parquet/pvdata/**/*.parquet'],
    ['csv/pvdata/', 'csv/pvdata/**/*.csv'],
    ['parquet/metrics/', 'parquet/metrics/*.parquet'],
    ['parquet/site/', 'parquet/site/*.parquet'],
    ['parquet/system/', 'parquet/system/*.parquet'],
    ['parquet/mount/', 'parquet/mount/*.parquet'],
    ['csv/system_metadata/', 'csv/system_metadata/*.json'],
    ['csv/systems*.csv', 'csv/systems*.csv'],
  ];
  let globbed = 0;
  for (const [label, pattern] of prefixes) {
    const n = int(await scalar(conn, `SELECT count(*) FROM glob(${g(pattern)})`), 'glob');
    const bytes = files
      .filter((f) => (label.endsWith('/') ? f.startsWith(label) : /^csv\/systems[^/]*\.csv$/.test(f)))
      .reduce((a, f) => a + statSync(join(outDir, f)).size, 0);
    globbed += n;
    console.log(`${label.padEnd(22)} ${String(n).padStart(4)} files ${String(bytes).padStart(9)} bytes`);
  }
  const total = files.reduce((a, f) => a + statSync(join(outDir, f)).size, 0);
  console.log(`${'total'.padEnd(22)} ${String(files.length).padStart(4)} files ${String(total).padStart(9)} bytes`);
  if (globbed !== files.length) fail(`glob saw ${globbed} files, the folder holds ${files.length}`);
  if (total > 3_000_000) fail(`mirror is ${total} bytes (> 3 MB)`);

  console.log('\n== Parquet pvdata schema ==');
  const schema = await rows(
    conn,
    `SELECT DISTINCT name, type, converted_type FROM parquet_schema(${g('parquet/pvdata/**/*.parquet')})
     WHERE name <> 'duckdb_schema' AND num_children IS NULL ORDER BY name`,
  );
  console.log(schema.map((r) => r.join(' ')).join('\n'));
  const cols = await rows(
    conn,
    `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(${g('parquet/pvdata/**/*.parquet')}, hive_partitioning = false))`,
  );
  const want = 'measured_on TIMESTAMP,utc_measured_on TIMESTAMP,metric_id INTEGER,value DOUBLE';
  if (cols.map((r) => r.join(' ')).join(',') !== want) fail(`pvdata columns are ${JSON.stringify(cols)}`);

  console.log('\n== readings per system (Parquet: rows / real values / NaN rows; CSV: non-empty cells / empty) ==');
  let allNan = 0;
  let allAbsent = 0;
  for (const s of MIRROR_SYSTEMS) {
    let pqRows = 0;
    let pqVals = 0;
    let pqNan = 0;
    let csvVals = 0;
    let csvEmpty = 0;
    for (const day of s.days) {
      const keys = dayKeys(s.id, day);
      await conn.run(`CREATE OR REPLACE TEMP TABLE pq AS
        SELECT strftime(measured_on, '%Y-%m-%d %H:%M:%S') AS m, utc_measured_on AS u, metric_id, value
        FROM read_parquet(${g(keys.parquet)})`);
      await conn.run(`CREATE OR REPLACE TEMP TABLE cw AS
        SELECT * FROM read_csv(${g(keys.csv)}, header = true, delim = ',', quote = '"', all_varchar = true, hive_partitioning = false)`);
      const channels = (await rows(conn, 'SELECT column_name FROM (DESCRIBE cw)'))
        .map((r) => str(r[0], 'column'))
        .filter((c) => c !== 'measured_on' && c !== 'system_id');
      if (channels.length === 0) fail(`${keys.csv}: no channel columns`);
      // Wide → long, keeping empty cells (as NULL) so they can be counted.
      await conn.run(
        `CREATE OR REPLACE TEMP TABLE cl AS ${channels
          .map(
            (c) => `SELECT measured_on AS m,
               CAST(regexp_extract(${lit(c)}, '_{1,2}(\\d+)$', 1) AS INTEGER) AS metric_id,
               CAST(NULLIF(${ident(c)}, '') AS DOUBLE) AS value FROM cw`,
          )
          .join(' UNION ALL ')}`,
      );
      const [c] = await rows(
        conn,
        `SELECT
           (SELECT count(*) FROM pq),
           (SELECT count(*) FROM pq WHERE NOT isnan(value)),
           (SELECT count(*) FROM pq WHERE isnan(value)),
           (SELECT count(*) FROM cl WHERE value IS NOT NULL),
           (SELECT count(*) FROM cl WHERE value IS NULL),
           (SELECT count(*) FROM (SELECT m, metric_id, value FROM pq WHERE NOT isnan(value)
                                  EXCEPT ALL SELECT m, metric_id, value FROM cl WHERE value IS NOT NULL)),
           (SELECT count(*) FROM (SELECT m, metric_id, value FROM cl WHERE value IS NOT NULL
                                  EXCEPT ALL SELECT m, metric_id, value FROM pq WHERE NOT isnan(value))),
           (SELECT count(*) FROM cw WHERE system_id IS DISTINCT FROM '${s.id}'),
           (SELECT count(*) FROM pq WHERE m NOT LIKE '${day}%'),
           (SELECT count(*) FROM pq WHERE u IS NOT NULL),
           (SELECT count(*) FROM (SELECT m, metric_id FROM pq GROUP BY ALL
                                  EXCEPT ALL SELECT m, metric_id FROM cl GROUP BY ALL))`,
      );
      if (!c) throw new Error('no result');
      const [nRows, nVals, nNan, cVals, cEmpty, pMinusC, cMinusP, badSid, badDay, nUtc, strayKeys] = c.map((v) =>
        int(v, 'count'),
      ) as [number, number, number, number, number, number, number, number, number, number, number];
      pqRows += nRows;
      pqVals += nVals;
      pqNan += nNan;
      csvVals += cVals;
      csvEmpty += cEmpty;
      if (pMinusC !== 0 || cMinusP !== 0) fail(`${keys.parquet}: Parquet and CSV differ (${pMinusC}/${cMinusP})`);
      if (badSid !== 0) fail(`${keys.csv}: system_id column is not ${s.id} in ${badSid} rows`);
      if (badDay !== 0) fail(`${keys.parquet}: ${badDay} rows outside local day ${day}`);
      if (strayKeys !== 0) fail(`${keys.parquet}: ${strayKeys} (measured_on, metric) keys missing from the CSV`);
      if (s.nullUtc ? nUtc !== 0 : nUtc !== nRows) fail(`${keys.parquet}: ${nUtc} non-null utc_measured_on`);
    }
    const absent = csvEmpty - pqNan;
    allNan += pqNan;
    allAbsent += absent;
    console.log(
      `system ${String(s.id).padStart(4)}: ${s.days.length} days | Parquet ${pqRows} rows, ${pqVals} values, ${pqNan} NaN | CSV ${csvVals} values, ${csvEmpty} empty → ${absent} absent from Parquet`,
    );
    if (pqVals !== csvVals) fail(`system ${s.id}: ${pqVals} Parquet values vs ${csvVals} CSV values`);
  }
  console.log(`missing readings: ${allNan} NaN rows in Parquet, ${allAbsent} absent from Parquet`);

  console.log('\n== time zones ==');
  const offsets = await rows(
    conn,
    `SELECT system_id, date_diff('minute', measured_on, utc_measured_on) AS off, count(*)
     FROM read_parquet(${g('parquet/pvdata/**/*.parquet')}, hive_partitioning = true)
     GROUP BY ALL ORDER BY ALL`,
  );
  console.log(offsets.map((r) => `system ${r[0]}: utc - local = ${r[1] ?? 'NULL'} min × ${r[2]}`).join('\n'));

  const fb = dayKeys(50, '2011-11-06');
  const dupPq = await rows(
    conn,
    `SELECT strftime(measured_on, '%H:%M'), list(strftime(utc_measured_on, '%H:%M') ORDER BY utc_measured_on)
     FROM read_parquet(${g(fb.parquet)}) GROUP BY measured_on HAVING count(*) > 1 ORDER BY measured_on`,
  );
  const dupCsv = int(
    await scalar(
      conn,
      `SELECT count(*) FROM (SELECT measured_on FROM read_csv(${g(fb.csv)}, all_varchar = true, hive_partitioning = false)
       GROUP BY measured_on HAVING count(*) = 2)`,
    ),
    'csv dup',
  );
  const fbRows = int(await scalar(conn, `SELECT count(*) FROM read_parquet(${g(fb.parquet)})`), 'rows');
  console.log(
    `system 50 fall-back 2011-11-06: ${fbRows} Parquet rows; ${dupPq.length} measured_on values occur twice (${dupPq.length * 2} rows): ${dupPq
      .map((r) => `${r[0]} (UTC ${(r[1] as string[]).join(' & ')})`)
      .join(', ')}; CSV: ${dupCsv} measured_on values occur twice`,
  );
  if (dupPq.length !== 4 || dupCsv !== 4) fail('expected the 4 quarter-hours 01:00–01:45 twice on 2011-11-06');
  const sf = dayKeys(50, '2012-03-11');
  const gap = await rows(
    conn,
    `SELECT count(*), count(*) FILTER (WHERE hour(measured_on) = 2) FROM read_parquet(${g(sf.parquet)})`,
  );
  console.log(`system 50 spring-forward 2012-03-11: ${gap[0]?.[0]} rows, ${gap[0]?.[1]} at local 02:xx`);
  if (int(gap[0]?.[1], 'gap') !== 0) fail('local 02:xx exists on 2012-03-11');

  console.log('\n== dictionaries and indexes ==');
  const orphan = await scalar(
    conn,
    `SELECT count(*) FROM (
       SELECT DISTINCT CAST(system_id AS INTEGER) AS system_id, metric_id
       FROM read_parquet(${g('parquet/pvdata/**/*.parquet')}, hive_partitioning = true)
       EXCEPT SELECT system_id, metric_id FROM read_parquet(${g('parquet/metrics/*.parquet')}))`,
  );
  const unused = await scalar(
    conn,
    `SELECT count(*) FROM (
       SELECT system_id, metric_id FROM read_parquet(${g('parquet/metrics/*.parquet')})
       EXCEPT SELECT DISTINCT CAST(system_id AS INTEGER), metric_id
       FROM read_parquet(${g('parquet/pvdata/**/*.parquet')}, hive_partitioning = true))`,
  );
  console.log(`metric ids in pvdata without a dictionary row: ${orphan}; dictionary rows never in pvdata: ${unused}`);
  if (int(orphan, 'orphan') !== 0) fail('pvdata metric ids missing from metrics dictionaries');
  for (const f of ['systems_20250729.csv', 'systems_20241231.csv', 'systems.csv']) {
    const [r] = await rows(
      conn,
      `SELECT count(*), count(DISTINCT system_id), (SELECT count(*) FROM (DESCRIBE SELECT * FROM read_csv(${g(`csv/${f}`)}, all_varchar = true)))
       FROM read_csv(${g(`csv/${f}`)}, all_varchar = true)`,
    );
    console.log(`csv/${f}: ${r?.[0]} rows, ${r?.[1]} systems, ${r?.[2]} columns`);
  }
  const idxCols = int(
    await scalar(conn, `SELECT count(*) FROM (DESCRIBE SELECT * FROM read_csv(${g('csv/systems_20250729.csv')}))`),
    'cols',
  );
  if (idxCols !== 31) fail(`systems_20250729.csv has ${idxCols} columns, expected 31`);
  return ok;
}

// ───────────────────────────── main ─────────────────────────────

async function main(): Promise<void> {
  const { outDir, excerptsDir } = parseArgs();
  for (const src of SOURCES) {
    if (!existsSync(join(excerptsDir, src.file))) throw new Error(`missing excerpt ${join(excerptsDir, src.file)}`);
  }
  prepareOutDir(outDir);

  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await instance.connect();
  try {
    await conn.run(`SET TimeZone = 'UTC'`);
    await loadExcerpts(conn, excerptsDir);
    await selectMirror(conn);
    await writeDailyFiles(conn, outDir);
    await writeMetrics(conn, outDir);
    await writeMetadataTables(conn, outDir);
    writeSystemJson(outDir);
    await writeSystemsIndexes(conn, outDir, excerptsDir);
    console.log(`wrote ${relative(process.cwd(), outDir) || '.'} from ${relative(process.cwd(), excerptsDir)}`);
    const ok = await verify(conn, outDir);
    if (!ok) process.exitCode = 1;
    else console.log('\nall checks passed');
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

await main();
