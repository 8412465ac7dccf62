import type { Readable } from 'node:stream';
import { BadInputError } from '@pv-pipeline/core';

/** The size-limit refusal shared by both stores. */
export function tooLargeError(key: string, size: number, maxBytes: number, exact = true): BadInputError {
  return new BadInputError(
    key,
    `object is ${exact ? '' : 'at least '}${size} bytes, larger than the limit of ${maxBytes} bytes`,
  );
}

/**
 * Reads a stream into memory, destroying it (and throwing the refusal) as soon
 * as more than `maxBytes` arrive.
 */
export async function readLimited(
  stream: Readable,
  key: string,
  maxBytes: number,
  expectedSize: number | undefined,
): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      total += buf.length;
      if (total > maxBytes) {
        throw tooLargeError(
          key,
          expectedSize !== undefined && expectedSize >= total ? expectedSize : total,
          maxBytes,
          expectedSize !== undefined && expectedSize >= total,
        );
      }
      chunks.push(buf);
    }
  } finally {
    if (!stream.destroyed) stream.destroy();
  }
  const out = Buffer.concat(chunks, total);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Checks an inclusive byte range, throwing BadInputError naming the key. */
export function checkRange(key: string, range: { start: number; end: number }): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new BadInputError(key, `invalid byte range ${start}-${end}`);
  }
}
