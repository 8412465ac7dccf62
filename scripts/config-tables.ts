/**
 * `npm run docs:config`: writes the README's tables of the configuration
 * (the services' environment variables, the flags of `pv-pipeline run`) from
 * core's one table of knobs, between their `<!-- begin knobs:… -->` markers.
 * test/deploy/env-drift.test.ts fails when README.md is not what this writes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { knobTable } from '@pv-pipeline/core';

const README = new URL('../README.md', import.meta.url);

/** README.md with both tables as core's knobs define them. */
export function readmeWithKnobTables(readme: string): string {
  let out = readme;
  for (const kind of ['env', 'flag'] as const) {
    const begin = `<!-- begin knobs:${kind} -->`;
    const end = `<!-- end knobs:${kind} -->`;
    const i = out.indexOf(begin);
    const j = out.indexOf(end);
    if (i < 0 || j < i) throw new Error(`README.md lacks the markers ${begin} … ${end}`);
    out = `${out.slice(0, i + begin.length)}\n${knobTable(kind)}\n${out.slice(j)}`;
  }
  return out;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  writeFileSync(README, readmeWithKnobTables(readFileSync(README, 'utf8')));
  console.log('README.md: configuration tables written');
}
