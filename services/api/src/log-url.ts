/** Query parameter names whose values never reach a log line. */
const SENSITIVE = /token|key|secret|pass|auth|sig|credential|session|cookie/i;

/**
 * A request URL as it may be logged: the values of query parameters that look
 * like credentials (`?token=…`, `?access_token=…`, `?X-Amz-Signature=…`) become
 * `[redacted]`. A client that puts its token in the URL is refused anyway;
 * this keeps the token out of the logs too.
 */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // a malformed name is logged as sent, its value still judged by the raw name
      }
      return eq >= 0 && SENSITIVE.test(decoded) ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}
