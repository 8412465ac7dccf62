import { BadInputError } from '@pv-pipeline/core';
import { parse } from 'csv-parse/sync';
import type { ObjectStore, ReadPin } from '../store/object-store.js';
import { classifyPrizeHeader, type PrizeHeader } from './prize-columns.js';

/** Longest header line read, bytes (a 9069 file with hundreds of channels fits well). */
export const MAX_HEADER_BYTES = 1024 * 1024;

/**
 * The first line of an object, read with a ranged GET of at most
 * {@link MAX_HEADER_BYTES} (the stream is dropped once the line is complete).
 * A zero-byte object, or a first line longer than the limit, is a
 * BadInputError naming the key. With `pin`, the read is pinned to the listed
 * version (see GetStreamOptions.ifMatch and `pinTo`).
 */
export async function readFirstLine(store: ObjectStore, key: string, pin: ReadPin = {}): Promise<string> {
  const range = { start: 0, end: MAX_HEADER_BYTES - 1 };
  const stream = await store.getStream(key, { range, ...pin }).catch((err) => {
    // a range on an empty object is not satisfiable
    if (err instanceof BadInputError && /not satisfiable/.test(err.message)) {
      throw new BadInputError(key, 'empty object (0 bytes)', err);
    }
    throw err;
  });
  const parts: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const nl = chunk.indexOf(0x0a);
      if (nl >= 0) {
        parts.push(chunk.subarray(0, nl));
        length += nl;
        return Buffer.concat(parts, length).toString('utf8').replace(/\r$/, '');
      }
      parts.push(chunk);
      length += chunk.length;
    }
  } finally {
    stream.destroy();
  }
  if (length === 0) throw new BadInputError(key, 'empty object (0 bytes)');
  if (length >= MAX_HEADER_BYTES) throw new BadInputError(key, `header line longer than ${MAX_HEADER_BYTES} bytes`);
  return Buffer.concat(parts, length).toString('utf8').replace(/\r$/, '');
}

/**
 * Reads and classifies the header of a prize CSV (see {@link classifyPrizeHeader}),
 * pinned to the listed version when `pin` is given (see {@link readFirstLine}).
 */
export async function readPrizeHeader(
  store: ObjectStore,
  key: string,
  unitsByName?: ReadonlyMap<string, string>,
  pin?: ReadPin,
): Promise<PrizeHeader> {
  const line = await readFirstLine(store, key, pin);
  let fields: string[];
  try {
    fields = (parse(line, { bom: true, relax_quotes: true }) as string[][])[0] ?? [];
  } catch (err) {
    throw new BadInputError(key, `malformed CSV header: ${(err as Error).message}`, err);
  }
  return classifyPrizeHeader(key, fields, unitsByName);
}
