import { BadInputError, type SourceFormat } from '@pv-pipeline/core';
import { z } from 'zod';

/** What to load: systems × an inclusive day range, in one format. */
export interface RunRequest {
  /** System ids, or 'all' (every system folder under `{format}/pvdata/`, or every prize folder). */
  systems: number[] | 'all';
  /** First day, `YYYY-MM-DD`. */
  from: string;
  /** Last day, `YYYY-MM-DD` (inclusive). */
  to: string;
  /**
   * `parquet` or `csv`: the daily archive, objects of the days in range;
   * `prize`: the 2023 Solar Data Prize CSVs of the systems, whole files (they
   * are not split by date, so the day range does not select among them).
   */
  format: SourceFormat;
}

const isoDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD')
  .refine(
    (s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s),
    'is not a real date',
  );

/** Zod schema of a run request (used by the CLI and the REST API). */
export const runRequestSchema = z
  .object({
    systems: z.union([z.literal('all'), z.array(z.number().int().positive()).min(1)]),
    from: isoDay,
    to: isoDay,
    format: z.enum(['parquet', 'csv', 'prize']),
  })
  .strict()
  .refine((r) => r.from <= r.to, { message: 'from is after to', path: ['from'] });

/** Validates a run request; the first problem becomes a BadInputError naming the field. */
export function validateRunRequest(input: unknown): RunRequest {
  const r = runRequestSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.length > 0 ? issue.path.join('.') : 'request';
    throw new BadInputError(field, issue.message);
  }
  return r.data;
}
