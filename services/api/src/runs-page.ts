import type { RunRecord } from '@pv-pipeline/queue';

const escapeHtml = (s: unknown): string =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/**
 * The runs page (`GET /runs`): recent runs with their state, counts and
 * failures, newest first, linked to the quality report. A plain HTML page
 * with no script, so it works behind any proxy and in any browser.
 */
export function renderRunsPage(runs: readonly RunRecord[], hasReport: boolean): string {
  const rows = runs
    .map((r) => {
      const req = r.request;
      const systems = Array.isArray(req.systems) ? req.systems.join(', ') : String(req.systems);
      const failures = r.failures
        .slice(0, 5)
        .map((f) => `<li><code>${escapeHtml(f.key || '(run)')}</code>: ${escapeHtml(f.reason)}</li>`)
        .join('');
      const more =
        r.failures.length > 5 ? `<li>… ${r.failures.length - 5} more (GET /api/runs/${escapeHtml(r.runId)})</li>` : '';
      return `<tr class="state-${escapeHtml(r.state)}">
  <td><a href="api/runs/${escapeHtml(r.runId)}"><code>${escapeHtml(r.runId)}</code></a></td>
  <td>${escapeHtml(r.state)}</td>
  <td>${escapeHtml(req.format)} · ${escapeHtml(systems)} · ${escapeHtml(req.from)} → ${escapeHtml(req.to)}</td>
  <td class="n">${r.counts.planned}</td><td class="n">${r.counts.loaded}</td><td class="n">${r.counts.skipped}</td>
  <td class="n">${r.counts.failed}</td><td class="n">${r.counts.readings.toLocaleString('en-US')}</td>
  <td>${escapeHtml(r.startedAt ?? r.createdAt)}</td><td>${escapeHtml(r.finishedAt ?? '')}</td>
  <td>${failures || more ? `<ul>${failures}${more}</ul>` : ''}</td>
</tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pv-pipeline runs</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2733; }
table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #c9d1da; padding: .3rem .5rem; vertical-align: top; }
th { background: #eef2f6; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.state-failed td:nth-child(2), tr.state-partial td:nth-child(2) { color: #a4161a; font-weight: 600; }
tr.state-completed td:nth-child(2) { color: #2b7a0b; } ul { margin: 0; padding-left: 1.1rem; }
</style></head><body>
<h1>Runs</h1>
<p>${hasReport ? '<a href="report/">Data-quality report</a> · ' : ''}<a href="admin/queues">Queues (Bull Board)</a> · newest first, at most ${runs.length}</p>
<table><thead><tr><th>run</th><th>state</th><th>request</th><th>planned</th><th>loaded</th><th>skipped</th><th>failed</th><th>readings</th><th>started</th><th>finished</th><th>failures</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="11">No runs yet.</td></tr>'}
</tbody></table>
</body></html>
`;
}
