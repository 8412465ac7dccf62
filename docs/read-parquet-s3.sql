-- Read a pv-pipeline Parquet dataset on S3 (parquet+s3://BUCKET/PREFIX) in DuckDB, as its ledger says:
-- only the files the latest ledger row of each source object names, so never half a batch.
-- Needs httpfs and credentials, e.g.:
--   INSTALL httpfs; LOAD httpfs;
--   CREATE SECRET (TYPE s3, PROVIDER credential_chain);  -- S3-compatible: add ENDPOINT 'host:port', URL_STYLE 'path'
SET VARIABLE pv_root = 's3://BUCKET/PREFIX';

-- The ledger as it stands, read once: run these statements again to see later commits.
CREATE OR REPLACE TEMP TABLE pv_ingest_ledger AS
SELECT *
FROM read_parquet(getvariable('pv_root') || '/pv_ingest_ledger/*.parquet', union_by_name = true)
QUALIFY row_number() OVER (PARTITION BY source_key ORDER BY loaded_at DESC) = 1;

-- The files it names (NULL while the dataset holds no readings: pv_readings cannot be read then).
SET VARIABLE pv_files = (
  SELECT list(getvariable('pv_root') || '/' || file ORDER BY file) FROM pv_ingest_ledger WHERE file IS NOT NULL
);

CREATE OR REPLACE TEMP VIEW pv_readings AS
SELECT * EXCLUDE (year, month)
FROM read_parquet(getvariable('pv_files'), hive_partitioning = true);

CREATE OR REPLACE TEMP VIEW pv_systems AS
SELECT * FROM read_parquet(getvariable('pv_root') || '/pv_systems/pv_systems.parquet');

CREATE OR REPLACE TEMP VIEW pv_sensors AS
SELECT * FROM read_parquet(getvariable('pv_root') || '/pv_sensors/pv_sensors.parquet');
