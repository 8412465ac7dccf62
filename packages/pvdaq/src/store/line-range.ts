import type { ByteRange } from '../layout/prize-layout.js';

const NL = 0x0a;

/**
 * The whole lines of one byte range of an object, from a stream of the object
 * that starts at `max(0, range.start - 1)`. A line belongs to the range its
 * first byte falls in: the range gives up the line it starts inside of (that
 * line is the previous range's last) and takes in full the line running past
 * its end. So adjacent ranges split an object at the same newlines, whatever
 * their sizes, and each line is read exactly once. Stops reading (returns,
 * letting the caller destroy the stream) once the range's last line is out.
 */
export async function* linesOfRange(
  chunks: AsyncIterable<Uint8Array>,
  range: ByteRange | null,
): AsyncGenerator<Uint8Array> {
  if (!range) {
    yield* chunks;
    return;
  }
  // Stream position 0 is byte `origin` of the object.
  const origin = Math.max(0, range.start - 1);
  let pos = origin;
  // Before the range's first line (only when start > 0: skip through the first newline at >= start - 1).
  let started = range.start === 0;
  for await (const chunk of chunks) {
    let from = 0;
    if (!started) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        pos += chunk.length;
        continue;
      }
      started = true;
      from = nl + 1;
      // the first line starting in the range would start past its end: the range owns no line
      if (pos + from > range.end) return;
    }
    // The range ends with the first newline at an object offset >= end.
    const endRel = Math.max(from, range.end - pos);
    const nl = endRel < chunk.length ? chunk.indexOf(NL, endRel) : -1;
    if (nl >= 0) {
      if (nl + 1 > from) yield chunk.subarray(from, nl + 1);
      return;
    }
    if (chunk.length > from) yield chunk.subarray(from);
    pos += chunk.length;
  }
}
