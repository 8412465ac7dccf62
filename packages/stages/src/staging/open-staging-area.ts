import { BadInputError } from '@pv-pipeline/core';
import { type GcsAccess, openGcsStagingArea, S3StagingArea } from './s3-staging-area.js';
import { LocalStagingArea, type StagingArea } from './staging-area.js';

/** Where the staging URL's servers are. */
export interface StagingAccess {
  /** S3-compatible endpoint of `s3://` staging. @defaultValue AWS */
  s3Endpoint?: string;
  /** Endpoint and HMAC key of `gs://` staging. @defaultValue Cloud Storage, the AWS credential chain */
  gcs?: GcsAccess;
}

/**
 * Opens `file://DIR` (or a plain path), `s3://bucket/prefix` or
 * `gs://bucket/prefix` (Cloud Storage's XML API: a BigQuery sink's load jobs
 * read the staged files there).
 */
export function openStagingArea(url: string, access: StagingAccess = {}): StagingArea {
  if (url.startsWith('file://')) return new LocalStagingArea(url.slice('file://'.length));
  const bucket = /^(s3|gs):\/\/([^/]+)\/?(.*?)\/?$/.exec(url);
  if (bucket) {
    const [, scheme, name, prefix] = bucket as unknown as [string, 's3' | 'gs', string, string];
    if (scheme === 'gs') return openGcsStagingArea(name, prefix, access.gcs);
    return new S3StagingArea({
      bucket: name,
      prefix,
      ...(access.s3Endpoint ? { endpoint: access.s3Endpoint } : {}),
    });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new BadInputError('PV_STAGING', `"${url}" is neither file://DIR, s3://bucket/prefix nor gs://bucket/prefix`);
  }
  return new LocalStagingArea(url);
}
