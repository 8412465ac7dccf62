import type { ExportManifest } from './export-manifest.js';
import type { SplitName } from './splits.js';

/** Hugging Face's names of the splits. */
const HF_SPLIT: Record<SplitName, string> = { train: 'train', valid: 'validation', test: 'test' };

/**
 * The export's `README.md`: a dataset card whose YAML `configs` header lets
 * `datasets.load_dataset("parquet", data_dir=…)` find the splits, and the
 * recipes for pandas, Polars and DuckDB, the columns, the aggregations and
 * the splits in prose.
 */
export function datasetCard(m: ExportManifest): string {
  const ext = m.format === 'parquet' ? 'parquet' : 'arrow';
  const splits = (Object.keys(HF_SPLIT) as SplitName[]).filter((s) => m.rows[s] > 0);
  const header = [
    '---',
    'configs:',
    '- config_name: default',
    '  data_files:',
    ...splits.flatMap((s) => [`  - split: ${HF_SPLIT[s]}`, `    path: data/split=${s}/*/*.${ext}`]),
    'tags:',
    '- photovoltaic',
    '- time-series',
    '- pvdaq',
    '---',
  ];
  const blocks = m.split.blocks
    ? Object.entries(m.split.blocks).map(([name, [a, b]]) => `- ${name}: ${a} to ${b} (end excluded)`)
    : [];
  const held = Object.entries(m.split.systems).map(([id, s]) => `system ${id} → ${s}`);
  const sensorRows = m.sensors.map(
    (s) => `| ${s.ss_id} | \`${s.sensor}\` | ${s.units ?? ''} | ${s.aggregation} (${s.chosen_by}) |`,
  );
  return `${header.join('\n')}

# PVDAQ training set: ${m.systems.length} system(s), ${m.interval} buckets, ${m.from} to ${m.to}

Written by pv-pipeline ${m.tool.version} from \`${m.sink}\`. Rows: ${splits.map((s) => `${s} ${m.rows[s]}`).join(', ')}.
\`manifest.json\` lists every file with its sha256, the source objects (keys and ETags) and the runs that loaded them.

## Rows and columns
One row per system and UTC bucket \`[timestamp, timestamp + ${m.interval})\`, every bucket from the system's
first to its last reading present: a gap is a row whose sensor values are null and whose counts are 0,
never a zero.

- \`ss_id\`, \`timestamp\` (bucket start, UTC), \`timestamp_local\` (the system's wall clock, DST included).
- One column per sensor (the union over the systems; a system without the sensor has null and 0), and
  \`<sensor>__n\`: the readings in the bucket. Units are in \`sensors.parquet\`, in this card and in each
  file's metadata (Parquet key-value \`pv_pipeline:units\`; Arrow field metadata \`unit\`).
- \`solar_zenith\`, \`solar_azimuth\`, \`solar_elevation\` (degrees, NREL SPA at the bucket centre), \`is_day\`
  (elevation > 0); null for a system without latitude/longitude.
- \`tod_sin\`, \`tod_cos\`, \`doy_sin\`, \`doy_cos\`: time of day and day of year of \`timestamp_local\`.
- \`ac_power_norm\`: the main AC power channel in W over the DC capacity in W, where the capacity is known
  and the quality report did not flag the day over capacity or unit suspect.

| ss_id | sensor | units | aggregation |
|---|---|---|---|
${sensorRows.join('\n')}

Aggregations: mean for instantaneous quantities, last for cumulative counters (energy readings that never
fall), sum for energy per interval${m.drop_flagged ? '; readings of sensor-days flagged by the quality report were dropped (counts 0)' : ''}.

## Splits (${m.split.mode})
${blocks.join('\n')}${held.length > 0 ? `\nHeld out whole (seed "${m.split.seed}"): ${held.join(', ')}.` : ''}
Embargo: ${m.split.embargo_s} s dropped after each boundary, so that no bucket of one split neighbours another's.

## Reading it
The splits are folders \`data/split=<train|valid|test>/ss_id=<id>/\`; every file also holds \`ss_id\`, so read
the files themselves rather than letting a reader add the folder names as columns a second time.
\`\`\`python
from datasets import load_dataset
ds = load_dataset("<this directory>")   # reads the configs header above: train, validation, test
ds = load_dataset("${ext === 'parquet' ? 'parquet' : 'arrow'}", data_files={"train": "<this directory>/data/split=train/*/*.${ext}",
                                   "validation": "<this directory>/data/split=valid/*/*.${ext}",
                                   "test": "<this directory>/data/split=test/*/*.${ext}"})
${
  ext === 'parquet'
    ? `import pandas as pd
train = pd.read_parquet("<this directory>/data/split=train", partitioning=None)   # no folder columns
import polars as pl
train = pl.read_parquet("<this directory>/data/split=train/*/*.parquet", hive_partitioning=False)
\`\`\`
\`\`\`sql
SELECT * FROM read_parquet('<this directory>/data/*/*/*.parquet', hive_partitioning = true);  -- adds split
\`\`\``
    : `import pyarrow as pa, glob
train = pa.concat_tables(pa.ipc.open_file(f).read_all() for f in sorted(glob.glob("<this directory>/data/split=train/*/*.arrow")))
\`\`\``
}
`;
}
