import { readFileSync } from 'node:fs';
import { parser } from '@prometheus-io/lezer-promql';
import { createLogger } from '@pv-pipeline/core';
import { createRedisConnection, DEFAULT_TUNING, openQueues } from '@pv-pipeline/queue';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { createMetricsRegistry } from '../../services/api/src/metrics.js';
import { ROOT } from '../support/cli.js';
import { testRedisUrl } from '../support/test-redis.js';

/** The metric names the API declares on its metrics port (the registry itself, nothing hand-listed). */
const redis = createRedisConnection(testRedisUrl(), { blocking: false });
const queues = openQueues(redis, '{pvmonitoring}', DEFAULT_TUNING);
const declared = new Set(
  createMetricsRegistry({ queues, redis, prefix: '{pvmonitoring}', logger: createLogger({ service: 'test' }) })
    .getMetricsAsArray()
    .map((m) => m.name),
);
afterAll(async () => {
  await queues.close();
  redis.disconnect();
});

/** Syntax errors of a PromQL expression, by Prometheus' own grammar (lezer-promql); empty when it parses. */
function promqlErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(`at ${node.from}: ${JSON.stringify(expr.slice(node.from, node.from + 20))}`);
    },
  });
  return errors;
}

/** pv_* metric names an expression reads. */
const metricsOf = (expr: string) => [...expr.matchAll(/\bpv_[a-z_]+\b/g)].map((m) => m[0]);

/** The datasource input an imported dashboard asks for (Grafana's `${…}` placeholder, not a JS template). */
const DATASOURCE_INPUT = ['$', '{DS_PROMETHEUS}'].join('');

/** The parts of Grafana's dashboard model (schemaVersion 39) an import relies on. */
const Dashboard = z.object({
  uid: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/),
  title: z.string().min(1),
  schemaVersion: z.number().int().min(36),
  __inputs: z.array(
    z.object({ name: z.literal('DS_PROMETHEUS'), type: z.literal('datasource'), pluginId: z.literal('prometheus') }),
  ),
  time: z.object({ from: z.string(), to: z.string() }),
  templating: z.object({ list: z.array(z.unknown()) }),
  panels: z
    .array(
      z.object({
        id: z.number().int().positive(),
        type: z.enum(['timeseries', 'stat', 'gauge', 'table']),
        title: z.string().min(1),
        datasource: z.object({ type: z.literal('prometheus'), uid: z.literal(DATASOURCE_INPUT) }),
        gridPos: z
          .object({
            x: z.number().int().min(0),
            y: z.number().int().min(0),
            w: z.number().int().min(1),
            h: z.number().int().min(1),
          })
          .refine((g) => g.x + g.w <= 24, 'a panel fits the 24-column grid'),
        targets: z.array(z.object({ refId: z.string(), expr: z.string().min(1) })).min(1),
      }),
    )
    .min(1),
});

/** A Prometheus rule file (rule_files) with alerting rules. */
const RuleFile = z.object({
  groups: z
    .array(
      z.object({
        name: z.string().min(1),
        rules: z.array(
          z.object({
            alert: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
            expr: z.string().min(1),
            for: z
              .string()
              .regex(/^\d+[smhd]$/)
              .optional(),
            labels: z.object({ severity: z.enum(['warning', 'critical']) }),
            annotations: z.object({ summary: z.string().min(1), description: z.string().min(1) }),
          }),
        ),
      }),
    )
    .min(1),
});

describe('monitoring: the Grafana dashboard and the Prometheus alert rules', () => {
  it('the dashboard loads as a Grafana dashboard: unique panel ids, a panel per signal, PromQL that parses', () => {
    const dash = Dashboard.parse(JSON.parse(readFileSync(`${ROOT}monitoring/grafana-dashboard.json`, 'utf8')));
    const ids = dash.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const titles = dash.panels.map((p) => p.title);
    for (const needed of [
      'Queue depth per state',
      'Objects per second',
      'Readings per second',
      'Loader batch age',
      'Failures by reason',
      'Stalled jobs',
      'Redis memory',
    ])
      expect(titles).toContain(needed);
    for (const p of dash.panels)
      for (const t of p.targets) {
        expect(promqlErrors(t.expr), `${p.title}: ${t.expr}`).toEqual([]);
        for (const m of metricsOf(t.expr)) expect(declared, `${p.title} reads ${m}`).toContain(m);
      }
  });

  it('the alert rules parse, read only declared metrics, and cover the four alerts', () => {
    const file = RuleFile.parse(parse(readFileSync(`${ROOT}monitoring/prometheus-rules.yml`, 'utf8')));
    const rules = file.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'PvJobsStalled',
        'PvObjectFailureRatioHigh',
        'PvRedisMemoryHigh',
        'PvOldestWaitingJobOld',
      ]),
    );
    for (const r of rules) {
      expect(promqlErrors(r.expr), `${r.alert}: ${r.expr}`).toEqual([]);
      expect(metricsOf(r.expr).length, r.alert).toBeGreaterThan(0);
      for (const m of metricsOf(r.expr)) expect(declared, `${r.alert} reads ${m}`).toContain(m);
    }
  });

  it('the grammar check is real: a broken expression and an unknown metric are caught', () => {
    expect(promqlErrors('sum(rate(pv_objects_loaded_total[5m])')).not.toEqual([]);
    expect(promqlErrors('sum(rate(pv_objects_loaded_total[5m]))')).toEqual([]);
    expect(declared.has('pv_objects_loaded_total')).toBe(true);
    expect(declared.has('pv_objects_lost_total')).toBe(false);
  });
});
