import { BadInputError } from '@pv-pipeline/core';
import { S3StagingArea } from './s3-staging-area.js';
import { LocalStagingArea, type StagingArea } from './staging-area.js';

/** Opens `file://DIR` (or a plain path) or `s3://bucket/prefix` (with `s3Endpoint` for S3-compatible servers). */
export function openStagingArea(url: string, options: { s3Endpoint?: string } = {}): StagingArea {
  if (url.startsWith('file://')) return new LocalStagingArea(url.slice('file://'.length));
  const s3 = /^s3:\/\/([^/]+)\/?(.*?)\/?$/.exec(url);
  if (s3) {
    return new S3StagingArea({
      bucket: s3[1]!,
      prefix: s3[2] ?? '',
      ...(options.s3Endpoint ? { endpoint: options.s3Endpoint } : {}),
    });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new BadInputError('PV_STAGING', `"${url}" is neither file://DIR nor s3://bucket/prefix`);
  }
  return new LocalStagingArea(url);
}
