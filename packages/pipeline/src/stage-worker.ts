// Worker-thread entry (loaded by piscina through stage-worker-bootstrap.mjs).
import { stageReadings } from './stage-readings.js';
import { warmUpStage } from './stage-warm-up.js';

/** Named task `warmUp` (see StagePool.warmUp): the task is the number of rounds. */
export const warmUp = (rounds: number): Promise<number> => warmUpStage(rounds);
export default stageReadings;
