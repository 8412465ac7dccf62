import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetBucket } from '@pv-pipeline/sinks';
import { ROOT } from './cli.js';
import { query } from './duckdb.js';

/** The README's read recipe for a parquet+s3:// dataset (the README quotes this file verbatim). */
export const READ_RECIPE = join(ROOT, 'docs', 'read-parquet-s3.sql');

/** Copies every object of a dataset to a local folder, as `aws s3 sync` would. */
export async function mirrorDataset(bucket: DatasetBucket, dir: string): Promise<string> {
  for (const o of await bucket.list('')) await bucket.get(o.key, join(dir, ...o.key.split('/')));
  return dir;
}

/**
 * Runs the read recipe on a local copy of a dataset (`root`; DuckDB has no
 * httpfs here, so `s3://BUCKET/PREFIX` becomes the copy), then `sql` over its views.
 */
export async function queryThroughRecipe(root: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const recipe = (await readFile(READ_RECIPE, 'utf8')).replace("'s3://BUCKET/PREFIX'", `'${root}'`);
  const statements = recipe.split(/;\s*\n/).filter((s) => s.replace(/--.*$/gm, '').trim() !== '');
  return query(null, `${statements.join(';\n')};\n${sql}`);
}
