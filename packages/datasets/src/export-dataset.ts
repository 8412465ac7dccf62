import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BadInputError, PermanentError, ReplacedDirectory } from '@pv-pipeline/core';
import { mainChannel, resolveScope, type SystemScope, wattsPerUnit } from '@pv-pipeline/quality/warehouse';
import type { Sink } from '@pv-pipeline/sinks';
import { checkOverrides, chooseAggregations, detectCounters, type ExportSensor, edgeSensors } from './aggregation.js';
import { type ExportDb, finishBuckets, openExportDb, runBucketPass } from './bucket-pass.js';
import { datasetCard } from './dataset-card.js';
import { writeSensorsFile, writeSystemsFile } from './dimension-files.js';
import { describeFile, type ExportFile, sha256File, writeDataFile } from './export-files.js';
import { type ExportManifest, readPreviousExport, toolVersion } from './export-manifest.js';
import { type ExportRequest, INTERVALS } from './export-options.js';
import { loadQualityFlags, readQualityFlags, readSources } from './export-sources.js';
import { buildFrames, FEATURE_COLUMNS, groupSystems, RESERVED_COLUMNS } from './frames.js';
import { planSplits, SPLITS, type SplitName, type SplitPlan } from './splits.js';
import { SunPositions } from './sun-positions.js';

/** What {@link exportDataset} does. */
export interface ExportOptions {
  /** The sink to read, initialized. */
  sink: Sink;
  /** The export directory: created, or replaced whole when it holds an earlier export. */
  out: string;
  request: ExportRequest;
  /** DuckDB memory for the export's queries; beyond it DuckDB spills to disk. @defaultValue '1GB' */
  memoryLimit?: string;
  /** Told one line per system written. @defaultValue nothing */
  onProgress?: (line: string) => void;
}

/** What an export did. */
export interface ExportOutcome {
  manifest: ExportManifest;
  /** Systems whose files were written anew. */
  rewritten: number[];
  /** Systems whose files an earlier export had written and that were kept (nothing they depend on changed). */
  kept: number[];
}

const iso = (s: number) => new Date(s * 1000).toISOString();
/** The version of what an export's files are made by (bumped when the same inputs would give other files). */
const EXPORT_LAYOUT = 2;
const emptyRows = (): Record<SplitName, number> => ({ train: 0, valid: 0, test: 0 });

/** Everything a system's files depend on, hashed: an equal fingerprint lets a re-export keep them. */
function fingerprint(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/**
 * Exports training sets from a warehouse: one row per system and UTC bucket
 * (every bucket from its first to its last reading), sensors pivoted into
 * columns with their reading counts, solar geometry, time features, capacity
 * normalisation, and leakage-safe splits; written as hive-partitioned
 * Parquet (or Arrow) with `systems.parquet`, `sensors.parquet`, a manifest
 * and a dataset card. The heavy work is the engine's (one bucket pass over
 * the readings, a pivot per system, COPY); the directory is replaced whole
 * and at once, and a system whose inputs did not change since the export
 * already there keeps its files.
 */
export async function exportDataset(options: ExportOptions): Promise<ExportOutcome> {
  const { request, sink } = options;
  const out = path.resolve(options.out);
  const previous = await readPreviousExport(out);
  const I = INTERVALS[request.interval];
  const reader = await sink.openReader({ memoryLimit: options.memoryLimit ?? '1GB' });
  let dir: ReplacedDirectory | null = null;
  let db: ExportDb | null = null;
  let sun: SunPositions | null = null;
  try {
    const scope = await resolveScope(reader, {
      systems: request.systems,
      ...(request.from ? { from: request.from } : {}),
      ...(request.to ? { to: request.to } : {}),
    });
    checkOverrides(scope.systems, request.aggregations);
    const columns = [...new Set(scope.systems.flatMap((s) => s.sensors.map((x) => x.sensor)))].sort();
    const clash = columns.filter((c) => RESERVED_COLUMNS.has(c) || c.endsWith('__n'));
    if (clash.length > 0)
      throw new PermanentError(`sensor name(s) ${clash.join(', ')} clash with the export's columns`);
    const sources = await readSources(reader, scope, I);
    if (sources.ledger.length === 0)
      throw new BadInputError('--from', `no readings of the systems asked for in ${scope.from}..${scope.to}`);
    // systems split by hash: those with readings in range (one without would leave its split empty)
    const ids = scope.systems.map((s) => s.ss_id).filter((id) => sources.spans.has(id));
    const plan = planSplits(request, ids, sources.lo, sources.hi, I);
    const engineVersion = String((await reader.query('SELECT version() AS v'))[0]?.v ?? '');
    checkBlocks(plan, request);
    const flags = await readQualityFlags(reader, scope);
    if (request.dropFlagged && !flags.available) {
      throw new BadInputError(
        '--drop-flagged',
        `${reader.url} has no pv_quality_daily: run pv-pipeline report --sink ${reader.url} first`,
      );
    }

    const prints = new Map(
      scope.systems.map((sys) => [
        sys.ss_id,
        fingerprint({
          v: toolVersion(),
          layout: EXPORT_LAYOUT,
          engine: engineVersion,
          request: { ...request, systems: undefined, from: undefined, to: undefined },
          // its own span, not the export's days: a later day of another system changes nothing here
          span: sources.spans.get(sys.ss_id) ?? null,
          columns,
          sys,
          split: { blocks: plan.blocks, held: plan.systems.get(sys.ss_id) ?? null },
          ledger: sources.ledger.filter((l) => l.ss_id === sys.ss_id).map((l) => [l.key, l.etag]),
          flags: flags.flagged.filter((f) => f[0] === sys.ss_id),
          capacity: flags.capacity.filter((f) => f[0] === sys.ss_id),
          quality: flags.available,
        }),
      ]),
    );

    dir = await ReplacedDirectory.start(out);
    const files: ExportFile[] = [];
    const systemsOut: ExportManifest['systems'] = [];
    const kept: number[] = [];
    const rewritten: number[] = [];
    const toBuild: SystemScope[] = [];
    for (const sys of scope.systems) {
      const reuse = await reusable(previous, out, sys.ss_id, prints.get(sys.ss_id)!);
      if (!reuse) {
        toBuild.push(sys);
        continue;
      }
      for (const f of reuse.files) {
        await dir.keep(f.path);
        files.push(f);
      }
      systemsOut.push(reuse.entry);
      kept.push(sys.ss_id);
    }

    db = await openExportDb(reader);
    const sensors: ExportSensor[] = previous
      ? previous.sensors
          .filter((x) => kept.includes(x.ss_id))
          .map((x) => {
            const known = scope.systems
              .find((sys) => sys.ss_id === x.ss_id)!
              .sensors.find((y) => y.sensor === x.sensor)!;
            return { ...x, kind: known.kind, chosenBy: x.chosen_by };
          })
      : [];
    const estimate = (id: number) => {
      const span = sources.spans.get(id);
      return span ? (span[1] - span[0]) / I : 0;
    };
    // systems built together: the same sensors (names, units, kinds, overrides), then the same aggregations
    const sensorSignature = (sys: SystemScope) =>
      JSON.stringify(sys.sensors.map((x) => [x.sensor, x.units, x.kind, request.aggregations[x.sensor] ?? null]));
    const batches = groupSystems(toBuild, sensorSignature, estimate);
    // the sun of a batch is computed on a worker thread ahead of its use: the first during the pass
    sun = batches.length > 0 ? new SunPositions(I) : null;
    const askSun = (k: number) =>
      batches[k] &&
      sun?.request(
        k,
        batches[k].flatMap((x) => {
          const span = sources.spans.get(x.ss_id);
          return x.latitude !== null && x.longitude !== null && span
            ? [
                {
                  ss_id: x.ss_id,
                  latitude: x.latitude,
                  longitude: x.longitude,
                  elevation: x.elevation ?? 0,
                  first: span[0] / I,
                  last: span[1] / I - 1,
                },
              ]
            : [];
        }),
      );
    askSun(0);
    if (toBuild.length > 0) {
      const edges = edgeSensors(toBuild, request.aggregations);
      await runBucketPass(db, reader, toBuild, edges, scope.from, scope.to, I);
      await loadQualityFlags(db.conn, flags);
      const chosen = chooseAggregations(toBuild, request.aggregations, await detectCounters(db.conn, I));
      await finishBuckets(
        db,
        chosen.some((x) => x.aggregation === 'last'),
      );
      sensors.push(...chosen);
    }
    sensors.sort((a, b) => a.ss_id - b.ss_id || (a.sensor < b.sensor ? -1 : a.sensor > b.sensor ? 1 : 0));
    const ownSensors = (id: number) => sensors.filter((x) => x.ss_id === id);
    const aggregationSignature = (sys: SystemScope) => JSON.stringify(ownSensors(sys.ss_id).map((x) => x.aggregation));
    for (const [k, batch] of batches.entries()) {
      askSun(k + 1);
      const sunAhead = await sun!.take(k);
      for (const members of groupSystems(batch, aggregationSignature, () => 0)) {
        const group = { systems: members, sensors: ownSensors(members[0]!.ss_id) };
        const frames = await buildFrames(db.conn, {
          group,
          columns,
          intervalS: I,
          plan,
          dropFlagged: request.dropFlagged,
          sun: sunAhead,
        });
        for (const sys of group.systems) {
          const own = sensors.filter((x) => x.ss_id === sys.ss_id);
          const frame = frames.find((f) => f.ss_id === sys.ss_id);
          const rows = emptyRows();
          for (const split of SPLITS) rows[split] = frame?.rows.get(split) ?? 0;
          const meta = {
            units: Object.fromEntries(own.map((x) => [x.sensor, x.units])),
            aggregations: Object.fromEntries(own.map((x) => [x.sensor, x.aggregation])),
          };
          for (const split of SPLITS) {
            if (rows[split] === 0) continue;
            const rel = `data/split=${split}/ss_id=${sys.ss_id}/part-0.${request.format}`;
            await dir.write(rel, '');
            await writeDataFile(
              db.conn,
              `SELECT * EXCLUDE (split) FROM x_out WHERE ss_id = ${sys.ss_id} AND split = '${split}' ORDER BY timestamp`,
              dir.path(rel),
              request.format,
              meta,
            );
            files.push(await describeFile(dir.path(''), rel, rows[split]));
          }
          const ac = mainChannel(own as never, 'ac_power') as ExportSensor | null;
          const grid = frame?.grid ?? 0;
          systemsOut.push({
            ss_id: sys.ss_id,
            timezone: sys.timezone,
            capacity_kw: sys.capacityKw,
            normalized_sensor: ac && wattsPerUnit(ac.units) !== null && (sys.capacityKw ?? 0) > 0 ? ac.sensor : null,
            first: frame ? iso(frame.first) : null,
            last: frame ? iso(frame.last) : null,
            rows,
            embargo_rows: grid - rows.train - rows.valid - rows.test,
            fingerprint: prints.get(sys.ss_id)!,
          });
          rewritten.push(sys.ss_id);
          options.onProgress?.(
            `system ${sys.ss_id}: ${grid} buckets (${SPLITS.map((x) => `${x} ${rows[x]}`).join(', ')})`,
          );
        }
      }
    }
    systemsOut.sort((a, b) => a.ss_id - b.ss_id);
    files.sort((a, b) => (a.path < b.path ? -1 : 1));
    const total = emptyRows();
    for (const s of systemsOut) for (const k of SPLITS) total[k] += s.rows[k];
    const asked: SplitName[] = [
      'train',
      ...(request.valid > 0 ? (['valid'] as const) : []),
      ...(request.test > 0 ? (['test'] as const) : []),
    ];
    const empty = asked.filter((s) => total[s] === 0);
    if (empty.length > 0) {
      throw new BadInputError(
        '--split',
        `the ${empty.join(' and ')} split${empty.length > 1 ? 's are' : ' is'} empty (${request.split} split of ${ids.length} system(s) over ${iso(sources.lo)}..${iso(sources.hi)}): change --valid/--test, --embargo or the range`,
      );
    }

    await writeSystemsFile(db.conn, reader, scope.systems, plan, dir.path('systems.parquet'));
    await writeSensorsFile(db.conn, reader, sensors, dir.path('sensors.parquet'));
    for (const name of ['systems.parquet', 'sensors.parquet']) files.push(await describeFile(dir.path(''), name));

    const manifest: ExportManifest = {
      pv_pipeline_export: 1,
      tool: { name: 'pv-pipeline', version: toolVersion() },
      sink: reader.url,
      interval: request.interval,
      interval_s: I,
      from: scope.from,
      to: scope.to,
      format: request.format,
      drop_flagged: request.dropFlagged,
      quality: flags.available ? { table: 'pv_quality_daily', generated_at: flags.generatedAt } : null,
      split: {
        mode: request.split,
        valid: request.valid,
        test: request.test,
        embargo_s: request.embargoS,
        seed: request.seed,
        blocks: plan.blocks
          ? Object.fromEntries(
              Object.entries(plan.blocks)
                .filter(([, b]) => b !== null)
                .map(([k, b]) => [k, [iso(b![0]), iso(b![1])]]),
            )
          : null,
        systems: Object.fromEntries([...plan.systems].map(([id, s]) => [String(id), s])),
      },
      columns: ['ss_id', 'timestamp', 'timestamp_local', ...columns.flatMap((c) => [c, `${c}__n`]), ...FEATURE_COLUMNS],
      sensors: sensors.map((s) => ({
        ss_id: s.ss_id,
        sensor: s.sensor,
        units: s.units,
        aggregation: s.aggregation,
        chosen_by: s.chosenBy,
      })),
      systems: systemsOut,
      rows: total,
      sources: {
        objects: sources.ledger.length,
        run_ids: [...new Set(sources.ledger.map((l) => l.run_id))].sort(),
        ledger: sources.ledger.map((l) => ({ key: l.key, etag: l.etag })),
      },
      files,
    };
    await dir.write('README.md', datasetCard(manifest));
    manifest.files.push(await describeFile(dir.path(''), 'README.md'));
    await dir.write('manifest.json', `${JSON.stringify(manifest, null, 2)}\n`);
    await dir.commit();
    dir = null;
    return { manifest, rewritten, kept };
  } catch (err) {
    await dir?.abort();
    throw err;
  } finally {
    await sun?.close();
    await db?.close();
    await reader.close();
  }
}

/** A time split whose asked-for block has no room is refused before anything is written. */
function checkBlocks(plan: SplitPlan, request: ExportRequest): void {
  if (!plan.blocks) return;
  for (const name of SPLITS) {
    const b = plan.blocks[name];
    if (b && b[1] <= b[0]) {
      throw new BadInputError(
        name === 'train' ? '--valid' : `--${name}`,
        `the ${name} block of the time split is empty: the span is too short for --valid ${request.valid}, --test ${request.test} and --embargo ${request.embargoS}s`,
      );
    }
  }
}

/** The earlier export's files and entry of a system, when its fingerprint is unchanged and its files are intact. */
async function reusable(
  previous: ExportManifest | null,
  dir: string,
  ssId: number,
  print: string,
): Promise<{ entry: ExportManifest['systems'][number]; files: ExportFile[] } | null> {
  const entry = previous?.systems.find((s) => s.ss_id === ssId);
  if (!previous || !entry || entry.fingerprint !== print) return null;
  const files = previous.files.filter((f) => f.path.includes(`/ss_id=${ssId}/`));
  for (const f of files) {
    const full = path.join(dir, f.path);
    if (!existsSync(full) || (await sha256File(full)) !== f.sha256) return null;
  }
  return { entry, files };
}
