import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

const REALM = 'pv-pipeline';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * A constant-time check of a candidate token. Both sides are SHA-256 digests,
 * so neither the comparison time nor an early length mismatch tells anything
 * about the token.
 */
export function tokenMatcher(token: string): (candidate: string) => boolean {
  const expected = digest(token);
  return (candidate) => timingSafeEqual(digest(candidate), expected);
}

/** Options of {@link requireToken}. */
export interface RequireTokenOptions {
  /**
   * Also accept HTTP Basic credentials whose password is the token (the user
   * name is ignored) and offer a Basic challenge. Used for the dashboard only:
   * a browser re-sends Basic credentials on the dashboard's own API calls,
   * which it cannot do with a bearer token.
   * @defaultValue false.
   */
  allowBasic?: boolean;
}

function presented(header: string | undefined, allowBasic: boolean): string | null {
  if (!header) return null;
  const bearer = /^Bearer +(\S+) *$/i.exec(header);
  if (bearer) return bearer[1]!;
  if (allowBasic) {
    const basic = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
    if (basic) {
      const text = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = text.indexOf(':');
      if (colon >= 0) return text.slice(colon + 1);
    }
  }
  return null;
}

/** Whether a request carries the token (as {@link requireToken} with the same options accepts it). */
export function presentsToken(
  matches: (candidate: string) => boolean,
  allowBasic: boolean,
): (req: { headers: { authorization?: string | undefined } }) => boolean {
  return (req) => {
    const candidate = presented(req.headers.authorization, allowBasic);
    return candidate !== null && matches(candidate);
  };
}

/**
 * Middleware answering 401 `{error}` with a `WWW-Authenticate: Bearer`
 * challenge unless the request carries the token.
 */
export function requireToken(
  matches: (candidate: string) => boolean,
  options: RequireTokenOptions = {},
): RequestHandler {
  const allowBasic = options.allowBasic ?? false;
  return (req, res, next) => {
    const candidate = presented(req.headers.authorization, allowBasic);
    if (candidate !== null && matches(candidate)) {
      next();
      return;
    }
    const missing = candidate === null;
    res.append(
      'WWW-Authenticate',
      missing ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="invalid_token"`,
    );
    if (allowBasic) res.append('WWW-Authenticate', `Basic realm="${REALM}", charset="UTF-8"`);
    res.status(401).json({ error: missing ? 'missing bearer token (Authorization: Bearer <token>)' : 'invalid token' });
  };
}
