/**
 * Prints the figures the chaos suites wrote (`CHAOS_FIGURES`, one JSON file per
 * suite) as one table, and writes their totals to `summary.json` beside them.
 *
 *   npx tsx test/chaos/print-figures.ts [DIR]
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHAOS } from './chaos-settings.js';
import type { ScenarioFigures } from './figures.js';

const dir = process.argv[2] ?? CHAOS.figuresDir;
const suites = readdirSync(dir)
  .filter((f) => f.endsWith('.json') && f !== 'summary.json')
  .map(
    (f) =>
      JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
        rounds: number;
        seed: number;
        scenarios: Record<string, ScenarioFigures>;
      },
  );
const scenarios = suites.flatMap((s) => Object.entries(s.scenarios));
const sum = (k: keyof ScenarioFigures) => scenarios.reduce((t, [, f]) => t + Number(f[k]), 0);
const faults: Record<string, number> = {};
for (const [, f] of scenarios) for (const [k, n] of Object.entries(f.faults)) faults[k] = (faults[k] ?? 0) + n;
const totals = {
  rounds: suites[0]?.rounds,
  seed: suites[0]?.seed,
  faultsInjected: Object.values(faults).reduce((a, b) => a + b, 0),
  faults,
  runs: sum('runs'),
  runsCompleted: sum('runsCompleted'),
  objects: sum('objects'),
  readingsExpected: sum('readingsExpected'),
  readingsLost: sum('readingsLost'),
  readingsDuplicated: sum('readingsDuplicated'),
  retriesReported: sum('retriesReported'),
  objectsFailed: sum('objectsFailed'),
};
writeFileSync(
  join(dir, 'summary.json'),
  `${JSON.stringify({ totals, scenarios: Object.fromEntries(scenarios) }, null, 2)}\n`,
);

const row = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
const lines = [
  row([
    'scenario',
    'faults injected',
    'runs (completed)',
    'objects',
    'readings',
    'lost',
    'duplicated',
    'retries reported',
    'objects failed',
  ]),
  row(Array(9).fill('---')),
  ...scenarios.map(([name, f]) =>
    row([
      name,
      Object.entries(f.faults)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(', '),
      `${f.runs} (${f.runsCompleted})`,
      f.objects,
      f.readingsExpected.toLocaleString('en-US'),
      f.readingsLost,
      f.readingsDuplicated,
      f.retriesReported,
      f.objectsFailed,
    ]),
  ),
];
process.stdout.write(`${lines.join('\n')}\n\n${JSON.stringify(totals, null, 2)}\n`);
