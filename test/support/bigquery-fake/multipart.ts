/** One part of a multipart/related body. */
export interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Parses a `multipart/related; boundary=…` body (the client's upload of a
 * load job: JSON metadata, then the file bytes). Throws on a malformed body.
 */
export function parseMultipart(contentType: string, body: Buffer): Part[] {
  const m = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!m) throw new Error('multipart body without a boundary');
  const delimiter = Buffer.from(`--${m[1]}`);
  const parts: Part[] = [];
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new Error('multipart boundary not found in the body');
  for (;;) {
    pos += delimiter.length;
    if (body.subarray(pos, pos + 2).toString() === '--') break; // closing delimiter
    if (body.subarray(pos, pos + 2).toString() === '\r\n') pos += 2;
    const next = body.indexOf(delimiter, pos);
    if (next < 0) throw new Error('multipart body is truncated');
    let chunk = body.subarray(pos, next);
    if (chunk.subarray(chunk.length - 2).toString() === '\r\n') chunk = chunk.subarray(0, chunk.length - 2);
    const headerEnd = chunk.indexOf('\r\n\r\n');
    const rawHeaders = headerEnd < 0 ? '' : chunk.subarray(0, headerEnd).toString('utf8');
    const headers: Record<string, string> = {};
    for (const line of rawHeaders.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, body: headerEnd < 0 ? chunk : chunk.subarray(headerEnd + 4) });
    pos = next;
  }
  return parts;
}
