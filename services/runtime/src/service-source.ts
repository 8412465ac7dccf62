import type { Logger, ServiceConfig } from '@pv-pipeline/core';
import { type ObjectStore, openObjectStore, SystemCatalog } from '@pv-pipeline/pvdaq';

/** The source object store of a service. */
export function openSource(config: ServiceConfig): ObjectStore {
  return openObjectStore(config.PV_SOURCE, config.S3_ENDPOINT ? { s3Endpoint: config.S3_ENDPOINT } : {});
}

/** A system catalog read once and refreshed every `refreshMs` (default 10 min). */
export function catalogProvider(store: ObjectStore, logger: Logger, refreshMs = 600_000): () => Promise<SystemCatalog> {
  let current: Promise<SystemCatalog> | null = null;
  let loadedAt = 0;
  return () => {
    if (!current || Date.now() - loadedAt > refreshMs) {
      loadedAt = Date.now();
      current = SystemCatalog.load(store, { logger });
      current.catch(() => {
        current = null;
      });
    }
    return current;
  };
}
