import type { StagedManifest } from '@pv-pipeline/core';
import { isObjectDatasetUrl } from '../open-sink.js';
import type { DatasetBucket } from './dataset-bucket.js';
import { readingsFileKey } from './object-dataset-layout.js';
import { type ObjectStorageAccess, openObjectParquetSink } from './object-parquet-sink.js';

/**
 * A worker's way to put an object's readings file straight into a dataset on
 * object storage (`parquet+s3://`), under a name of its own that nothing
 * references yet: the loader then only checks its size and writes the ledger,
 * so the work that grows with the rows is spread over the workers. A file
 * whose batch never commits is deleted by the dataset's vacuum.
 */
export class ReadingsPlacement {
  readonly #bucket: DatasetBucket;

  constructor(bucket: DatasetBucket) {
    this.#bucket = bucket;
  }

  /**
   * PUTs `bytes` (a readings file, see ReadingsFileWriter) as the readings
   * file of `m`, and marks the manifest `placed` with the file's URI and size.
   */
  async place(m: StagedManifest, bytes: Uint8Array): Promise<void> {
    const key = readingsFileKey(m);
    await this.#bucket.putBytes(key, bytes);
    m.staged = this.#bucket.uri(key);
    m.bytes = bytes.length;
    m.layout = 'pv_readings';
    m.placed = true;
  }
}

/** The placement of a `parquet+s3://` sink URL (with the source's endpoint), or null for any other sink. */
export function openReadingsPlacement(
  sinkUrl: string,
  access: ObjectStorageAccess = {},
  from = 'PV_SINK',
): ReadingsPlacement | null {
  if (!isObjectDatasetUrl(sinkUrl)) return null;
  return new ReadingsPlacement(openObjectParquetSink(sinkUrl, access, from).bucket);
}
