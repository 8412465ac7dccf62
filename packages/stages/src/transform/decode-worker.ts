// Worker-thread entry (loaded by piscina through decode-worker-bootstrap.mjs).
import { decodeReadings } from './decode-readings.js';

export default decodeReadings;
