import type { Logger } from '@pv-pipeline/core';
import type { SystemCatalog } from '@pv-pipeline/pvdaq';
import type { SensorEntry, SystemRow } from '@pv-pipeline/schema';
import type { Sink } from '@pv-pipeline/sinks';
import { refreshDimensions } from '@pv-pipeline/stages';
import type { RunStore } from './run-store.js';

/** What the loader's dimension refresh needs. */
export interface DimensionRefresherDeps {
  /** The loader's sink: it is this sink's only writer. */
  sink: Pick<Sink, 'upsertSystems' | 'upsertSensors'>;
  /** The current system catalog (its systems and, per system, its channels). */
  catalog: () => Promise<SystemCatalog>;
  /** Where each run's warnings go (a system without channels). */
  runs: Pick<RunStore, 'addWarnings'>;
  /** For a system whose channels cannot be read. */
  logger: Logger;
  /** The loader's serial lane (between commits), where a refresh runs. */
  lane: <R>(fn: () => Promise<R>) => Promise<R>;
}

/** What a dimension job reports. */
export interface DimensionJobResult {
  /** pv_systems rows the catalog has. */
  systems: number;
  /** pv_sensors rows of the job's systems. */
  sensors: number;
}

/** A dimension job waiting for the lane, with its job's promise. */
interface Waiting {
  runId: string;
  systems: readonly number[];
  resolve: (r: DimensionJobResult) => void;
  reject: (err: unknown) => void;
}

/**
 * The loader's dimension jobs (one per system of a run, from the planner's
 * pages). Jobs that wait for the serial lane together are refreshed in one
 * go, and a row this loader already wrote unchanged is not written again, so
 * a run of many systems costs the sink a write or two, not two per system.
 * Each run still gets the warnings of its own systems.
 */
export class DimensionRefresher {
  readonly #d: DimensionRefresherDeps;
  readonly #written = new WrittenDimensions();
  #waiting: Waiting[] = [];

  constructor(deps: DimensionRefresherDeps) {
    this.#d = deps;
  }

  /** Refreshes the dimensions of a run's systems, with whatever other jobs wait with it. */
  refresh(runId: string, systems: readonly number[]): Promise<DimensionJobResult> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ runId, systems, resolve, reject });
      if (this.#waiting.length === 1) void this.#d.lane(() => this.#refreshWaiting());
    });
  }

  async #refreshWaiting(): Promise<void> {
    const group = this.#waiting;
    this.#waiting = [];
    try {
      await this.#refreshGroup(group);
    } catch (err) {
      if (group.length === 1) {
        group[0]!.reject(err);
        return;
      }
      // one job's bad rows must not fail the others: each alone, as commitOrSplit does for batches
      for (const w of group) await this.#refreshGroup([w]).catch((e: unknown) => w.reject(e));
    }
  }

  async #refreshGroup(group: readonly Waiting[]): Promise<void> {
    const catalog = await this.#d.catalog();
    const systems = [...new Set(group.flatMap((w) => w.systems))];
    const r = await refreshDimensions(this.#written.over(this.#d.sink), catalog, systems, this.#d.logger);
    for (const w of group) {
      const own = w.systems.flatMap((id) => r.systemWarnings.get(id) ?? []);
      await this.#d.runs.addWarnings(w.runId, [...catalog.warnings, ...own]);
      w.resolve({
        systems: r.systems,
        sensors: w.systems.reduce((n, id) => n + (r.sensorsBySystem.get(id) ?? 0), 0),
      });
    }
  }
}

/**
 * The dimension rows a sink's only writer has written, by key: an upsert of
 * rows it wrote unchanged a short while ago is a no-op, so it is not sent.
 * Rows are remembered only once their write succeeded.
 */
export class WrittenDimensions {
  readonly #systems = new Map<string, Written>();
  readonly #sensors = new Map<string, Written>();
  readonly #maxAgeMs: number;

  /**
   * @param maxAgeMs how long a written row is trusted to stand in the sink unchanged: a table reset
   *   or rewritten behind the loader is repaired by the first refresh after that. @defaultValue 10 minutes
   */
  constructor(maxAgeMs = 600_000) {
    this.#maxAgeMs = maxAgeMs;
  }

  /** The sink's upserts, each sending only the rows that are new, changed or written too long ago. */
  over(sink: Pick<Sink, 'upsertSystems' | 'upsertSensors'>): Pick<Sink, 'upsertSystems' | 'upsertSensors'> {
    return {
      upsertSystems: (rows) =>
        this.#upsertChanged(
          rows,
          this.#systems,
          (r: SystemRow) => String(r.ss_id),
          (fresh) => sink.upsertSystems(fresh),
        ),
      upsertSensors: (rows) =>
        this.#upsertChanged(
          rows,
          this.#sensors,
          (r: SensorEntry) => `${r.ss_id}/${r.sensor}`,
          (fresh) => sink.upsertSensors(fresh),
        ),
    };
  }

  async #upsertChanged<T>(
    rows: readonly T[],
    written: Map<string, Written>,
    keyOf: (row: T) => string,
    upsert: (rows: readonly T[]) => Promise<void>,
  ): Promise<void> {
    const now = Date.now();
    const changed = rows
      .map((row) => ({ row, key: keyOf(row), text: JSON.stringify(row) }))
      .filter((f) => {
        const w = written.get(f.key);
        return w === undefined || w.text !== f.text || now - w.at > this.#maxAgeMs;
      });
    if (changed.length === 0) return;
    await upsert(changed.map((f) => f.row));
    for (const f of changed) written.set(f.key, { text: f.text, at: now });
  }
}

/** A row as written, and when. */
interface Written {
  text: string;
  at: number;
}
