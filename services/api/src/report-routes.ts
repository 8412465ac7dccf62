import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunStore } from '@pv-pipeline/queue';
import express, { type Express } from 'express';
import { renderRunsPage } from './runs-page.js';

/**
 * The quality report as the API serves it, from `PV_REPORT_DIR` (written by
 * `pv-pipeline report` or refreshed by the loader after each run):
 * `GET /api/quality` (its `quality.json`), `/report/…` (its pages) and
 * `GET /runs` (the runs page). The caller puts them behind the token.
 */
export function addReportRoutes(app: Express, reportDir: string | undefined, runs: RunStore): void {
  const missing = reportDir
    ? 'no quality report yet: run `pv-pipeline report --out PV_REPORT_DIR`, or let the loader refresh it after a run'
    : 'PV_REPORT_DIR is not set: this API serves no quality report';

  app.get('/api/quality', async (_req, res) => {
    const file = reportDir ? path.join(reportDir, 'quality.json') : null;
    if (!file || !existsSync(file)) {
      res.status(404).json({ error: missing });
      return;
    }
    res.type('application/json').send(await readFile(file));
  });

  if (reportDir) {
    app.use(
      '/report',
      express.static(reportDir, { index: 'index.html', dotfiles: 'deny', redirect: true, fallthrough: true }),
    );
  }
  app.use('/report', (_req, res) => {
    res.status(404).json({ error: missing });
  });

  app.get('/runs', async (_req, res) => {
    const hasReport = Boolean(reportDir && existsSync(path.join(reportDir, 'index.html')));
    res.type('html').send(renderRunsPage(await runs.list(50), hasReport));
  });
}
