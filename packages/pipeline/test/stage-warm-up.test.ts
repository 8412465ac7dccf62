import { describe, expect, it } from 'vitest';
import { StagePool } from '../src/stage-pool.js';
import { warmUpStage } from '../src/stage-warm-up.js';

// One synthetic day: 12 channels × 1440 minutes, every value present.
const ROWS_PER_ROUND = 12 * 1440;

describe('decoder warm-up', () => {
  it('stages the synthetic day through the real decoders, once per round', async () => {
    expect(await warmUpStage(2)).toBe(2 * ROWS_PER_ROUND);
    expect(await warmUpStage(0)).toBe(0);
  });

  it('warms every thread of a pool: one warm-up task per thread', async () => {
    const pool = new StagePool(2);
    try {
      expect(await pool.warmUp(1)).toBe(2 * ROWS_PER_ROUND);
    } finally {
      await pool.close();
    }
  });
});
