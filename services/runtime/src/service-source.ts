import { BadInputError, type Logger, type ServiceConfig } from '@pv-pipeline/core';
import { type ObjectStore, openObjectStore, SystemCatalog } from '@pv-pipeline/pvdaq';
import { openStagingArea, type StagingArea } from '@pv-pipeline/stages';

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

/**
 * The staging area of a service (`PV_STAGING`): `s3://` with `S3_ENDPOINT`,
 * `gs://` with `GCS_ENDPOINT` and the HMAC key `GCS_HMAC_ACCESS_ID` /
 * `GCS_HMAC_SECRET`. Cloud Storage itself (no `GCS_ENDPOINT`) needs both halves
 * of the key, never the source's AWS credentials; a BadInputError names the
 * half that is missing.
 */
export function openServiceStaging(config: ServiceConfig): StagingArea {
  const id = config.GCS_HMAC_ACCESS_ID;
  const secret = config.GCS_HMAC_SECRET;
  if (/^gs:\/\//i.test(config.PV_STAGING) && (id || secret || !config.GCS_ENDPOINT) && !(id && secret)) {
    throw new BadInputError(
      id ? 'GCS_HMAC_SECRET' : 'GCS_HMAC_ACCESS_ID',
      `is needed for ${config.PV_STAGING}: gs:// staging signs with an HMAC key (GCS_HMAC_ACCESS_ID and GCS_HMAC_SECRET)`,
    );
  }
  return openStagingArea(config.PV_STAGING, {
    ...(config.S3_ENDPOINT ? { s3Endpoint: config.S3_ENDPOINT } : {}),
    gcs: {
      ...(config.GCS_ENDPOINT ? { endpoint: config.GCS_ENDPOINT } : {}),
      ...(id && secret ? { credentials: { accessKeyId: id, secretAccessKey: secret } } : {}),
    },
  });
}
