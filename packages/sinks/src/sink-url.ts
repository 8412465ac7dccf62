import { BadInputError } from '@pv-pipeline/core';

/** A sink URL taken apart: the part after `scheme://` (percent-decoded) and the query's parameters. */
export interface ParsedSinkUrl {
  /** The URL as given, trimmed (what the sink reports as its URL). */
  url: string;
  /** Everything between `scheme://` and `?`, percent-decoded. */
  body: string;
  /** The query's parameters, each known and given at most once. */
  params: ReadonlyMap<string, string>;
}

/** Where a sink URL came from, named in every error about it: a flag (`--sink`) or a variable (`PV_SINK`). */
export type SinkUrlSource = string;

/** The shape of a DuckDB size: `96MB`, `1GiB`, `512 KB`. */
const SIZE = /^\d+(\.\d+)?\s*[KMGT]i?B$/i;

/**
 * Parses a sink URL the one way every sink does: trimmed, the scheme matched
 * without regard to case, the body percent-decoded and not empty, only the
 * parameters the sink knows, each at most once. Every error is a
 * BadInputError naming where the URL came from and what is wrong, with the
 * expected form.
 */
export function parseSinkUrl(
  given: string,
  scheme: string,
  known: readonly string[],
  usage: string,
  from: SinkUrlSource,
): ParsedSinkUrl {
  const url = given.trim();
  // the URL without its query in messages: a parameter's value is never echoed
  const shown = url.split('?')[0];
  const bad = (why: string) => new BadInputError(from, `"${shown}" ${why} (${usage})`);
  const m = new RegExp(`^${scheme.replace(/[+.]/g, '\\$&')}://([^?#]*)(?:\\?([^#]*))?$`, 'i').exec(url);
  if (!m) throw bad(`is not a ${scheme}:// URL`);
  let body: string;
  try {
    body = decodeURIComponent(m[1]!);
  } catch {
    throw bad('has a malformed percent-escape');
  }
  if (body === '' || body.includes('\0')) throw bad(`names no ${scheme === 'bigquery' ? 'dataset' : 'path'}`);
  const params = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(m[2] ?? '')) {
    if (!known.includes(name)) {
      throw bad(`has an unknown parameter ${name}${known.length ? ` (known: ${known.join(', ')})` : ''}`);
    }
    if (params.has(name)) throw bad(`gives ${name} twice`);
    params.set(name, value.trim());
  }
  return { url, body, params };
}

/** A `threads=N` parameter: a whole number ≥ 1. */
export function threadsParam(p: ParsedSinkUrl, from: SinkUrlSource): number | undefined {
  const v = p.params.get('threads');
  if (v === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(v)) throw new BadInputError(from, `threads=${v} is not a whole number ≥ 1`);
  return Number(v);
}

/** A `memory_limit=SIZE` parameter, as DuckDB takes it (`256MB`, `1GiB`). */
export function memoryLimitParam(p: ParsedSinkUrl, from: SinkUrlSource): string | undefined {
  const v = p.params.get('memory_limit');
  if (v === undefined) return undefined;
  if (!SIZE.test(v)) {
    throw new BadInputError(from, `memory_limit=${v} is not a size such as 256MB or 1GiB`);
  }
  return v;
}
