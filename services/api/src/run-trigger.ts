import { derivedId } from '@pv-pipeline/core';
import { type RunRequest, runRequestSchema } from '@pv-pipeline/stages';
import { type ZodIssue, z } from 'zod';

/**
 * Body of `POST /api/runs`: a run request (strict: unknown fields are an
 * error) with an optional `sink` that, when given, must name the sink this
 * deployment loads (a guard against triggering the wrong environment).
 */
export const triggerBodySchema = runRequestSchema.safeExtend({
  sink: z.string().min(1).optional(),
});

/** What the API knows when it checks a trigger. */
export interface TriggerLimits {
  /** The deployment's sink URL (`PV_SINK`). */
  sink: string;
  /** Longest day span of one run (`PV_MAX_RUN_DAYS`). */
  maxDays: number;
}

/** One problem of a trigger body. */
export interface TriggerIssue {
  /** The field at fault (`request` for the body as a whole). */
  field: string;
  message: string;
}

/** The outcome of {@link checkTrigger}: a request to run, or the problems, first one first. */
export type TriggerCheck = { ok: true; request: RunRequest } | { ok: false; issues: TriggerIssue[] };

const FIELD_HELP: Record<string, string> = {
  systems: 'systems must be "all" or a non-empty array of positive integer system ids',
  format: 'format must be "parquet" or "csv"',
  sink: 'sink must be a sink URL string',
};

function describeIssue(issue: ZodIssue, body: Record<string, unknown>): TriggerIssue {
  if (issue.code === 'unrecognized_keys') {
    const names = issue.keys.map((k) => `"${k}"`).join(', ');
    return {
      field: 'request',
      message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${names} (allowed: systems, from, to, format, sink)`,
    };
  }
  const field = String(issue.path[0] ?? 'request');
  if (field !== 'request' && body[field] === undefined) return { field, message: `${field} is required` };
  if (issue.code === 'custom') {
    return { field, message: issue.message.startsWith(field) ? issue.message : `${field} ${issue.message}` };
  }
  const help = FIELD_HELP[field];
  if (help) return { field, message: help };
  return { field, message: `${field} ${issue.message}` };
}

const DAY_MS = 86_400_000;

/** Days in an inclusive `YYYY-MM-DD` range. */
export function spanDays(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1;
}

/**
 * Checks a parsed JSON body against {@link triggerBodySchema} and the
 * deployment's limits. The returned request never carries `sink`.
 */
export function checkTrigger(body: unknown, limits: TriggerLimits): TriggerCheck {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, issues: [{ field: 'request', message: 'the body must be a JSON object' }] };
  }
  const parsed = triggerBodySchema.safeParse(body);
  if (!parsed.success) {
    const fields = body as Record<string, unknown>;
    return { ok: false, issues: parsed.error.issues.map((i) => describeIssue(i, fields)) };
  }
  const { sink, ...request } = parsed.data;
  if (sink !== undefined && sink.trim() !== limits.sink) {
    return {
      ok: false,
      issues: [{ field: 'sink', message: `sink "${sink}" is not the sink this deployment loads` }],
    };
  }
  // prize files are whole-period: their runs list a few files whatever the range
  const days = spanDays(request.from, request.to);
  if (request.format !== 'prize' && days > limits.maxDays) {
    return {
      ok: false,
      issues: [
        {
          field: 'to',
          message: `${request.from}..${request.to} spans ${days} days; one run may span at most ${limits.maxDays} (PV_MAX_RUN_DAYS)`,
        },
      ],
    };
  }
  return { ok: true, request };
}

/**
 * Ids this API and the other triggers give runs; anything else in a URL is
 * answered 404 without a Redis look-up. Lenient on purpose so that ids from
 * the CLI or the re-scan scheduler are found too.
 */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * A run id: `run-<UTC yyyymmddThhmmss>-<8 hex>`, the hex derived from the
 * request, the time, a per-process nonce and a counter (so two identical
 * triggers in one second, on one replica or two, still get distinct ids).
 */
export function newRunId(request: RunRequest, now: Date, nonce: string, counter: number): string {
  const iso = now.toISOString();
  const stamp = iso.replace(/[-:]/g, '').slice(0, 15);
  return `run-${stamp}-${derivedId(JSON.stringify(request), iso, nonce, counter).slice(0, 8)}`;
}
