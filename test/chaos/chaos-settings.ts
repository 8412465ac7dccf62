import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MirrorParams } from '../../bench/generate-mirror.js';

/**
 * How hard the suite pushes. `npm test` runs the short form (one round, a few
 * faults of each kind); `npm run chaos` sets `CHAOS_ROUNDS` (more rounds, each
 * on fresh objects, more kills) and `CHAOS_FIGURES` (where the figures go).
 */
export const CHAOS = {
  /** Rounds of every scenario. Default 1. */
  rounds: Math.max(1, Number(process.env.CHAOS_ROUNDS ?? 1) || 1),
  /** Seed of every fault PRNG (the proxy's, the kill moments', BigQuery's). Default 1. */
  seed: Number(process.env.CHAOS_SEED ?? 1) || 1,
  /** Directory the figures are written to, one JSON file per suite. Default a temp dir. */
  figuresDir: process.env.CHAOS_FIGURES ?? join(tmpdir(), 'pv-chaos-figures'),
};

/** Daily objects of 4 channels × 1440 minutes (5,760 readings), 31 days per system. */
export function chaosMirrorParams(systems: number): MirrorParams {
  return { generatorVersion: 1, systems, year: 2023, month: 7, days: 31, channels: 4, minutesPerDay: 1440 };
}

/** Where the generated mirror is kept between runs (regenerated when its parameters change). */
export const CHAOS_MIRROR_DIR = join(tmpdir(), 'pv-chaos-mirror');
