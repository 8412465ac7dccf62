import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { BadInputError } from '@pv-pipeline/core';
import type { ExportFile } from './export-files.js';
import type { Aggregation, ExportFormat, IntervalName, SplitMode } from './export-options.js';
import type { SplitName } from './splits.js';

/** The `manifest.json` of an export: everything needed to know what it holds and to rebuild it. */
export interface ExportManifest {
  /** Marks the directory as an export of this tool (and the layout's version). */
  pv_pipeline_export: 1;
  tool: { name: 'pv-pipeline'; version: string };
  /** The sink it read. */
  sink: string;
  interval: IntervalName;
  interval_s: number;
  /** The inclusive range of local (standard-time) days exported. */
  from: string;
  to: string;
  format: ExportFormat;
  drop_flagged: boolean;
  /** What the quality flags came from: the sink's pv_quality_daily, as last written; null when it has none. */
  quality: { table: 'pv_quality_daily'; generated_at: string | null } | null;
  split: {
    mode: SplitMode;
    valid: number;
    test: number;
    embargo_s: number;
    seed: string;
    /** Time blocks, ISO instants `[start, end)`; null for a split by system. */
    blocks: Partial<Record<SplitName, [string, string]>> | null;
    /** Systems held out whole, by split. */
    systems: Record<string, SplitName>;
  };
  /** The columns of every data file, in order. */
  columns: string[];
  sensors: Array<{
    ss_id: number;
    sensor: string;
    units: string | null;
    aggregation: Aggregation;
    chosen_by: 'override' | 'kind' | 'counter';
  }>;
  systems: Array<{
    ss_id: number;
    timezone: string | null;
    capacity_kw: number | null;
    /** The AC channel `ac_power_norm` divides, or null when it is not computed. */
    normalized_sensor: string | null;
    /** First and last bucket start of its grid, ISO; null when it has no readings in range. */
    first: string | null;
    last: string | null;
    rows: Record<SplitName, number>;
    /** Buckets dropped in the embargo. */
    embargo_rows: number;
    /** Hash of everything its files depend on: an equal one lets a re-export keep them. */
    fingerprint: string;
  }>;
  rows: Record<SplitName, number>;
  /** The source objects of the readings (from the ledger) and the runs that loaded them. */
  sources: { objects: number; run_ids: string[]; ledger: Array<{ key: string; etag: string }> };
  /** Every file but the manifest, with its sha256. */
  files: ExportFile[];
}

/** This tool's version, from the package. */
export function toolVersion(): string {
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
}

/**
 * The manifest of the export already in `dir`: null when `dir` does not
 * exist or is empty; a BadInputError naming `--out` when it holds something
 * else (an export never replaces a directory it did not write).
 */
export async function readPreviousExport(dir: string): Promise<ExportManifest | null> {
  if (!existsSync(dir)) return null;
  if (!statSync(dir).isDirectory()) throw new BadInputError('--out', `${dir} exists and is not a directory`);
  if (readdirSync(dir).length === 0) return null;
  try {
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as ExportManifest;
    if (manifest.pv_pipeline_export === 1) return manifest;
  } catch {
    // not an export: refused below
  }
  throw new BadInputError('--out', `${dir} exists and is not a pv-pipeline export (no manifest.json of one)`);
}
