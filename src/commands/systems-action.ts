import { openObjectStore, SystemCatalog } from '@pv-pipeline/pvdaq';
import { listSourceSystems, type SystemListing } from '@pv-pipeline/stages';
import { commandFailed } from './command-failure.js';

/** Options of `pv-pipeline systems`, as commander parses them. */
export interface SystemsCliOptions {
  source: string;
  s3Endpoint?: string;
  json?: boolean;
}

const cell = (v: string | number | null) => (v === null ? '' : String(v));

/** The systems as an aligned text table. */
export function systemsTable(systems: readonly SystemListing[]): string {
  const head = ['ss_id', 'name', 'zone', 'lat', 'lon', 'kW', 'first', 'last', 'formats', 'channels'];
  const rows = systems.map((s) => [
    cell(s.ss_id),
    cell(s.name),
    cell(s.timezone),
    cell(s.latitude),
    cell(s.longitude),
    cell(s.capacity_kw),
    cell(s.first_day),
    cell(s.last_day),
    s.formats.join(','),
    cell(s.channels),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The action of `pv-pipeline systems`: 0 with the list, 1 when the source cannot be read (one line on stderr). */
export async function systemsCommand(opts: SystemsCliOptions): Promise<number> {
  try {
    const store = openObjectStore(opts.source, opts.s3Endpoint ? { s3Endpoint: opts.s3Endpoint } : {});
    try {
      const catalog = await SystemCatalog.load(store);
      for (const w of catalog.warnings) process.stderr.write(`warning: ${w}\n`);
      const systems = await listSourceSystems(store, catalog);
      if (opts.json) process.stdout.write(`${JSON.stringify({ systems }, null, 2)}\n`);
      else process.stdout.write(`${systemsTable(systems)}\n${systems.length} system(s) in ${store.url}\n`);
      return 0;
    } finally {
      await store.close();
    }
  } catch (err) {
    return commandFailed('systems', err);
  }
}
