// Worker-thread entry (loaded by piscina through stage-worker-bootstrap.mjs).
import { stageReadings } from './stage-readings.js';

export default stageReadings;
