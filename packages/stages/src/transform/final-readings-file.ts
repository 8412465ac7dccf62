import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { StagedManifest } from '@pv-pipeline/core';
import type { ReadingsFileWriter } from '@pv-pipeline/sinks';

let seq = 0;

/**
 * Turns an object's staged Parquet bytes into a Parquet dataset's readings
 * file (see ReadingsFileWriter) and marks the manifest `layout: 'pv_readings'`
 * with the new size. Resolves with the new bytes; the temp files go whatever
 * the outcome.
 */
export async function finalReadingsFile(
  writer: ReadingsFileWriter,
  manifest: StagedManifest,
  staged: Uint8Array,
): Promise<Uint8Array> {
  const base = path.join(tmpdir(), `pv-readings-${process.pid}-${++seq}`);
  const source = `${base}.staged.parquet`;
  const out = `${base}.parquet`;
  try {
    await writeFile(source, staged);
    const rows = await writer.write(manifest, source, out);
    if (rows !== manifest.rows)
      throw new Error(`${manifest.key}: readings file has ${rows} rows, staged ${manifest.rows}`);
    const bytes = await readFile(out);
    manifest.layout = 'pv_readings';
    manifest.bytes = bytes.length;
    return bytes;
  } finally {
    await Promise.all([rm(source, { force: true }), rm(out, { force: true })]);
  }
}
