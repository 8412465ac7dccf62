import { derivedId } from '@pv-pipeline/core';

/** The transform job of one object version: planning the same (key, ETag) twice enqueues it once. */
export function transformJobId(key: string, etag: string): string {
  return `t-${derivedId('transform', key, etag)}`;
}

/** The load job of one staged object version. */
export function loadJobId(key: string, etag: string): string {
  return `l-${derivedId('load', key, etag)}`;
}
