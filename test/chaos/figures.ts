import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHAOS } from './chaos-settings.js';

/** What one scenario did and what came out of it. */
export interface ScenarioFigures {
  /** Faults injected, by kind (S3 replies, kills, restarts, …). */
  faults: Record<string, number>;
  runs: number;
  runsCompleted: number;
  objects: number;
  /** Readings the ground truth has for the scenario's objects. */
  readingsExpected: number;
  /** Expected readings missing from the table. */
  readingsLost: number;
  /** Readings whose (ss_id, timestamp, sensor) key the table holds more than once. */
  readingsDuplicated: number;
  /** Retries the runs' reports name (`counts.retried`), and objects failed (with reasons). */
  retriesReported: number;
  objectsFailed: number;
  /** A few of the reported retry and failure reasons, for the record. */
  reasons: string[];
}

/** Figures of one suite, written as `${CHAOS.figuresDir}/${suite}.json` when it ends. */
export class FigureBook {
  readonly #suite: string;
  readonly #scenarios = new Map<string, ScenarioFigures>();

  constructor(suite: string) {
    this.#suite = suite;
  }

  /** The (created on first use) figures of a scenario. */
  scenario(name: string): ScenarioFigures {
    let f = this.#scenarios.get(name);
    if (!f) {
      f = {
        faults: {},
        runs: 0,
        runsCompleted: 0,
        objects: 0,
        readingsExpected: 0,
        readingsLost: 0,
        readingsDuplicated: 0,
        retriesReported: 0,
        objectsFailed: 0,
        reasons: [],
      };
      this.#scenarios.set(name, f);
    }
    return f;
  }

  /** Adds to a scenario's fault counts. */
  fault(name: string, kind: string, n = 1): void {
    const f = this.scenario(name);
    f.faults[kind] = (f.faults[kind] ?? 0) + n;
  }

  /** Keeps up to 12 distinct reasons per scenario. */
  reason(name: string, reason: string): void {
    const f = this.scenario(name);
    if (f.reasons.length < 12 && !f.reasons.includes(reason)) f.reasons.push(reason);
  }

  write(): string {
    mkdirSync(CHAOS.figuresDir, { recursive: true });
    const file = join(CHAOS.figuresDir, `${this.#suite}.json`);
    const body = {
      suite: this.#suite,
      rounds: CHAOS.rounds,
      seed: CHAOS.seed,
      finishedAt: new Date().toISOString(),
      scenarios: Object.fromEntries(this.#scenarios),
    };
    writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
    return file;
  }
}
