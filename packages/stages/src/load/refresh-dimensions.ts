import { describeError, type Logger } from '@pv-pipeline/core';
import type { SystemCatalog } from '@pv-pipeline/pvdaq';
import type { SensorEntry } from '@pv-pipeline/schema';
import type { Sink } from '@pv-pipeline/sinks';

/** What a dimension refresh wrote. */
export interface DimensionRefresh {
  /** pv_systems rows written (every system the catalog knows). */
  systems: number;
  /** pv_sensors rows written (the channels of the run's systems). */
  sensors: number;
  /** Systems whose channels could not be read (their objects fail on their own), each named with the reason. */
  warnings: string[];
  /** The same warnings by system. */
  systemWarnings: ReadonlyMap<number, string>;
  /** pv_sensors rows written, by system. */
  sensorsBySystem: ReadonlyMap<number, number>;
}

/**
 * The load stage's dimension refresh, run before a run's first commit by both
 * executors: every system the catalog knows into pv_systems, and the channels
 * of the run's systems into pv_sensors. A system without channels (no
 * dictionary, no prize or residential header) is a warning: its objects fail
 * with the reason when they are transformed.
 */
export async function refreshDimensions(
  sink: Pick<Sink, 'upsertSystems' | 'upsertSensors'>,
  catalog: SystemCatalog,
  systems: readonly number[],
  logger: Logger,
): Promise<DimensionRefresh> {
  await sink.upsertSystems(catalog.systems());
  const sensors: SensorEntry[] = [];
  const systemWarnings = new Map<number, string>();
  const sensorsBySystem = new Map<number, number>();
  for (const id of systems) {
    try {
      const own = await catalog.sensors(id);
      sensors.push(...own);
      sensorsBySystem.set(id, own.length);
    } catch (err) {
      logger.warn({ ss_id: id, err: describeError(err) }, 'no channels; its objects will fail');
      systemWarnings.set(id, `system ${id}: no channels (${describeError(err)})`);
    }
  }
  await sink.upsertSensors(sensors);
  return {
    systems: catalog.systems().length,
    sensors: sensors.length,
    warnings: [...systemWarnings.values()],
    systemWarnings,
    sensorsBySystem,
  };
}
