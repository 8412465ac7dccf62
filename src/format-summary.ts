import { READING_RULE_IDS } from '@pv-pipeline/core';
import type { RunSummary } from '@pv-pipeline/stages';

const n = (x: number) => x.toLocaleString('en-US');

/** The human-readable end-of-run summary. */
export function formatSummary(s: RunSummary): string {
  const c = s.counts;
  const lines = [
    `pv-pipeline ${s.runId}: ${s.state} in ${s.seconds.toFixed(1)} s`,
    `  source   ${s.source}`,
    `  sink     ${s.sink}`,
    `  objects  ${n(c.planned)} planned · ${n(c.loaded)} loaded · ${n(c.skipped)} skipped · ${n(c.failed)} failed`,
    `  readings ${n(c.readings)} loaded (${n(s.readingsPerSecond)}/s) · ${n(s.replaced)} replaced · dropped ${READING_RULE_IDS.map((id) => `${n(s.dropped[id])} ${id.replace('_', '-')}`).join(', ')}`,
  ];
  if (s.failures.length > 0) {
    lines.push('  failed objects:');
    for (const f of s.failures) lines.push(`    ${f.reason.startsWith(f.key) ? f.reason : `${f.key}: ${f.reason}`}`);
  }
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  return `${lines.join('\n')}\n`;
}
