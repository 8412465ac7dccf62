import { ReplacedDirectory } from '@pv-pipeline/core';
import type { Sink } from '@pv-pipeline/sinks';
import type { QualityJson } from './quality-json.js';
import { loadCharts, releaseCharts } from './render/line-chart.js';
import { renderIndexPage, renderSystemPage, systemPageName } from './render/pages.js';
import { computeQualityReport } from './report.js';
import { readQualityJson } from './report-dir.js';
import type { QualityRequest } from './scope.js';
import { storedAvailability, writeQualityTables } from './sink-tables.js';

/** What {@link publishQualityReport} does. */
export interface PublishOptions {
  /** The sink to report on, initialized; the report's table and cadences are written back to it. */
  sink: Sink;
  /** The report directory: `index.html`, one page per system, `quality.json`. */
  out: string;
  /** Systems and days. */
  request: QualityRequest;
  /**
   * Refresh: recompute the systems asked for and keep the other systems of
   * the report already in `out` as they are (what `run --report` does for
   * the systems a run touched). @defaultValue false: the report holds what was asked for, nothing else
   */
  merge?: boolean;
  /** DuckDB memory for the report's queries; beyond it DuckDB spills to disk. @defaultValue '1GB' */
  memoryLimit?: string;
  /** Clock for `generated_at`. @defaultValue the current time */
  now?: Date;
}

/**
 * Computes the quality report and publishes it: the pages and
 * `quality.json` replace `out` whole (see {@link ReplacedDirectory}), and
 * `pv_quality_daily` and `pv_sensors.interval_s` are written into the sink.
 * Returns the report's JSON.
 */
export async function publishQualityReport(options: PublishOptions): Promise<QualityJson> {
  const { sink } = options;
  const reader = await sink.openReader({ memoryLimit: options.memoryLimit ?? '1GB' });
  try {
    // the chart library loads while the engine computes
    const charts = loadCharts();
    const report = await computeQualityReport(reader, options.request, {
      sink: sink.url,
      ...(options.now ? { now: options.now } : {}),
    }).catch(async (err) => {
      await charts.catch(() => undefined);
      throw err;
    });
    await charts;
    const writer = await ReplacedDirectory.start(options.out);
    try {
      for (const ssId of report.systemIds) {
        await writer.write(systemPageName(ssId), renderSystemPage(await report.detail(ssId), report.json));
      }
      let json = report.json;
      const previous = options.merge ? await readQualityJson(writer.dir) : null;
      const kept = (previous?.systems ?? []).filter((s) => !report.systemIds.includes(s.ss_id));
      for (const s of kept) await writer.keep(systemPageName(s.ss_id));
      if (previous && kept.length > 0) {
        json = {
          ...json,
          // ISO days: the earlier and the later sort first and last
          from: [previous.from, json.from].sort()[0]!,
          to: [previous.to, json.to].sort()[1]!,
          systems: [...json.systems, ...kept].sort((a, b) => a.ss_id - b.ss_id),
        };
      }
      const availability = await report.availability(json.from, json.to);
      availability.systems.push(
        ...(await storedAvailability(
          reader,
          kept.map((s) => s.ss_id),
          json.from,
          json.to,
        )),
      );
      availability.systems.sort((a, b) => a.ss_id - b.ss_id);
      await writer.write('index.html', renderIndexPage(json, availability));
      await writer.write('quality.json', `${JSON.stringify(json, null, 2)}\n`);
      await writeQualityTables(sink, reader, report);
      await writer.commit();
      return json;
    } catch (err) {
      await writer.abort();
      throw err;
    } finally {
      releaseCharts();
      await report.close();
    }
  } finally {
    await reader.close();
  }
}
