// Worker-thread entry (loaded by piscina through decode-worker-bootstrap.mjs).
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { type DecodeTask, decodeReadings, type EncodedReadings } from './decode-readings.js';

/**
 * {@link decodeReadings} in a worker thread: the staged file's buffer is
 * transferred back to the main thread, not copied.
 */
export default async function decodeInWorker(task: DecodeTask): Promise<EncodedReadings> {
  const out = await decodeReadings(task);
  const file = out.file;
  if (file === null || !ownsItsBuffer(file)) return out;
  return move({ [transferableSymbol]: [file.buffer], [valueSymbol]: out }) as unknown as EncodedReadings;
}

/** Whether the bytes are the whole of their buffer (transferring it then moves nothing else). */
function ownsItsBuffer(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
}
