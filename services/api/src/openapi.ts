import { READING_RULE_IDS } from '@pv-pipeline/core';
import { RUN_STATES, runRequestSchema } from '@pv-pipeline/stages';
import { z } from 'zod';
import { triggerBodySchema } from './run-trigger.js';

/** A JSON Schema (draft 2020-12, as OpenAPI 3.1 uses) of a zod schema, without its `$schema` tag. */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _tag, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    target: 'draft-2020-12',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return rest;
}

const nullable = (type: 'string' | 'number' | 'integer', description?: string) => ({
  type: [type, 'null'],
  ...(description ? { description } : {}),
});

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const json = (schema: object, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

const error = (description: string) => json(ref('Error'), description);

/** A client past PV_AUTH_FAILURE_LIMIT failed authentications. */
const tooManyFailures = {
  description:
    'Too many failed authentications from this address (`PV_AUTH_FAILURE_LIMIT` per 15 minutes); `RateLimit` headers tell when to retry.',
  content: { 'application/json': { schema: ref('Error') } },
};

const unauthorized = {
  description: 'No token, or not the right one. `WWW-Authenticate: Bearer` tells the scheme.',
  headers: { 'WWW-Authenticate': { schema: { type: 'string' } } },
  content: { 'application/json': { schema: ref('Error') } },
};

const PUBLIC = { security: [] as unknown[] };

/**
 * The OpenAPI 3.1 document of the REST API, served at `GET /api/openapi.json`.
 * Every route of {@link createApiApp} is listed (a test checks it); routes
 * with `security: []` are public.
 */
export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'pv-pipeline API',
    version: '0.1.0',
    description:
      'Triggers PVDAQ load runs and reports their progress. Every `/api/*` route and the dashboard need ' +
      '`Authorization: Bearer <PV_API_TOKEN>`; `/healthz`, `/readyz` and `/api/openapi.json` are public. ' +
      'Prometheus metrics are served apart, on `PV_METRICS_PORT` (default 9464) at `/metrics`: `pv_queue_jobs{queue,state}`, ' +
      '`pv_job_duration_seconds{queue}`, `pv_queue_paused{queue}`, `pv_readings_loaded_total`, `pv_objects_loaded_total`, ' +
      '`pv_objects_failed_total`, `pv_objects_skipped_total`, `pv_redis_up` and the Node.js process metrics; ' +
      'and `/queue-depth` (the backlog of the transform and cleanup queues that the workers serve, JSON, for an autoscaler). ' +
      'Errors are JSON `{"error": "<message>"}`.',
  },
  security: [{ bearerAuth: [] }],
  tags: [
    { name: 'runs', description: 'Trigger and follow load runs.' },
    { name: 'systems', description: 'The PVDAQ systems the source knows.' },
    { name: 'operations', description: 'Health, readiness, dashboard.' },
  ],
  paths: {
    '/api/runs': {
      post: {
        tags: ['runs'],
        operationId: 'triggerRun',
        summary: 'Trigger a run',
        description:
          'Queues a run over systems × an inclusive day range. Unknown fields are rejected; `from` must not be after ' +
          '`to`; the span may not exceed `PV_MAX_RUN_DAYS` days. When `sink` is given it must equal the sink this ' +
          'deployment loads (`PV_SINK`). Bodies over 16 kB are refused with 413. Rate limited per client address (`PV_TRIGGER_RATE_LIMIT` per minute, default 30; 429).',
        requestBody: { required: true, content: { 'application/json': { schema: ref('RunTrigger') } } },
        responses: {
          '202': {
            description: 'Queued. `Location` names the run.',
            headers: { Location: { schema: { type: 'string' }, description: '`/api/runs/<id>`' } },
            content: { 'application/json': { schema: ref('RunAccepted') } },
          },
          '400': error(
            'Not a JSON object, an unknown field, a bad value, from after to, too long a span, a foreign sink.',
          ),
          '401': unauthorized,
          '413': error('The body is larger than 16 kB.'),
          '429': error(
            'Too many triggers, or too many failed authentications from this address; `RateLimit` headers tell when to retry.',
          ),
          '500': error('Internal error (details are logged, not returned).'),
        },
      },
      get: {
        tags: ['runs'],
        operationId: 'listRuns',
        summary: 'The newest runs first',
        parameters: [
          {
            name: 'limit',
            in: 'query',
            required: false,
            schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          },
        ],
        responses: {
          '200': json(
            { type: 'object', properties: { runs: { type: 'array', items: ref('Run') } }, required: ['runs'] },
            'Runs still kept in Redis (finished runs expire after 7 days).',
          ),
          '400': error('limit is not an integer in 1..200.'),
          '401': unauthorized,
          '429': tooManyFailures,
        },
      },
    },
    '/api/runs/{id}': {
      get: {
        tags: ['runs'],
        operationId: 'getRun',
        summary: 'One run with its counts and errors',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': json(ref('Run'), 'The run.'),
          '401': unauthorized,
          '429': tooManyFailures,
          '404': error('No such run (or it expired).'),
        },
      },
      delete: {
        tags: ['runs'],
        operationId: 'cancelRun',
        summary: 'Cancel a queued or running run',
        description:
          'The run becomes `cancelled`: its planning stops, and its queued transform jobs that no other run waits for are removed. Jobs already running finish; what they load stays loaded and in the ledger. The run is then recorded in the sink like any finished run.',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': json(ref('Run'), 'The cancelled run.'),
          '401': unauthorized,
          '429': tooManyFailures,
          '404': error('No such run (or it expired).'),
          '409': error('The run is already finished (its state is in the message).'),
        },
      },
    },
    '/api/systems': {
      get: {
        tags: ['systems'],
        operationId: 'listSystems',
        summary: 'Systems of the source catalog (cached for 10 minutes)',
        responses: {
          '200': json(
            {
              type: 'object',
              properties: { systems: { type: 'array', items: ref('System') } },
              required: ['systems'],
            },
            'Every system of the catalog (the newest systems index, the metadata tables, prize metadata) or with a data folder, and the formats it has data in.',
          ),
          '401': unauthorized,
          '429': tooManyFailures,
          '500': error('The source could not be read.'),
        },
      },
    },
    '/api/quality': {
      get: {
        tags: ['quality'],
        operationId: 'getQualityReport',
        summary: 'The data-quality report (quality.json of PV_REPORT_DIR; pages at /report/, runs at /runs)',
        responses: {
          '200': json(
            { type: 'object', description: 'The quality.json contract: see the README, "Data-quality report".' },
            'The newest report.',
          ),
          '401': unauthorized,
          '404': error('No report yet, or PV_REPORT_DIR is not set.'),
          '429': tooManyFailures,
        },
      },
    },
    '/runs': {
      get: {
        tags: ['quality'],
        operationId: 'runsPage',
        summary: 'Recent runs as an HTML page (state, counts, failures), linked to the report at /report/',
        description: 'Browsers may send the token as the password of HTTP basic authentication.',
        responses: {
          '200': { description: 'The page.', content: { 'text/html': { schema: { type: 'string' } } } },
          '401': unauthorized,
          '429': tooManyFailures,
        },
      },
    },
    '/api/openapi.json': {
      get: {
        ...PUBLIC,
        tags: ['operations'],
        operationId: 'openApi',
        summary: 'This document (public)',
        responses: { '200': json({ type: 'object' }, 'The OpenAPI 3.1 document.') },
      },
    },
    '/healthz': {
      get: {
        ...PUBLIC,
        tags: ['operations'],
        operationId: 'health',
        summary: 'Liveness (public): the process answers',
        responses: { '200': json(ref('Status'), '`{"status":"ok"}`') },
      },
    },
    '/readyz': {
      get: {
        ...PUBLIC,
        tags: ['operations'],
        operationId: 'ready',
        summary: 'Readiness (public): Redis answers PING within 1 s',
        responses: {
          '200': json(ref('Status'), '`{"status":"ok"}`'),
          '503': json(ref('Status'), '`{"status":"unavailable","error":"redis unreachable"}`'),
        },
      },
    },
    '/admin/queues': {
      get: {
        tags: ['operations'],
        operationId: 'dashboard',
        summary: 'Bull Board dashboard of the plan, transform and load queues (read-write)',
        description:
          'An HTML application; it and everything under `/admin/queues/` (its static files and its own JSON API) ' +
          'need the token, as a bearer token or, so that a browser can use it, as the password of HTTP Basic ' +
          'credentials (any user name).',
        security: [{ bearerAuth: [] }, { dashboardBasic: [] }],
        responses: {
          '200': { description: 'The dashboard.', content: { 'text/html': { schema: { type: 'string' } } } },
          '401': unauthorized,
          '429': tooManyFailures,
        },
      },
    },
  },
  components: {
    securitySchemes: {
      bearerAuth: { type: 'http', scheme: 'bearer', description: 'The deployment token, `PV_API_TOKEN`.' },
      dashboardBasic: {
        type: 'http',
        scheme: 'basic',
        description: 'Dashboard only: any user name, the token as password.',
      },
    },
    schemas: {
      RunTrigger: {
        ...jsonSchema(triggerBodySchema),
        description: 'A run request; `sink`, if given, must be the sink this deployment loads.',
        examples: [{ systems: [4, 50], from: '2020-01-01', to: '2020-12-31', format: 'parquet' }],
      },
      RunRequest: jsonSchema(runRequestSchema),
      RunAccepted: {
        type: 'object',
        properties: {
          runId: { type: 'string', examples: ['run-20240501T120000-1a2b3c4d'] },
          state: { const: 'queued' },
          request: ref('RunRequest'),
          links: { type: 'object', properties: { self: { type: 'string' } }, required: ['self'] },
        },
        required: ['runId', 'state', 'request', 'links'],
      },
      RunCounts: {
        type: 'object',
        properties: Object.fromEntries(
          ['planned', 'transformed', 'loaded', 'skipped', 'failed', 'readings', 'retried'].map((k) => [
            k,
            { type: 'integer', minimum: 0 },
          ]),
        ),
        required: ['planned', 'transformed', 'loaded', 'skipped', 'failed', 'readings'],
      },
      Run: {
        type: 'object',
        description:
          'A run: the same report `pv-pipeline run --json` prints (runId, state, request, counts, replaced, dropped, failures, warnings, startedAt, finishedAt), plus retries and createdAt.',
        properties: {
          runId: { type: 'string' },
          state: {
            enum: [...RUN_STATES],
            description:
              'queued, running; then completed (every object loaded or skipped), partial (some objects failed, the others loaded), failed (the run could not be planned) or cancelled.',
          },
          request: ref('RunRequest'),
          counts: ref('RunCounts'),
          replaced: {
            type: 'integer',
            minimum: 0,
            description: 'Rows removed because their object changed or another object re-delivered their key.',
          },
          dropped: {
            type: 'object',
            description: 'Readings the reading rules dropped, by rule (see the README, "The rules").',
            properties: Object.fromEntries(READING_RULE_IDS.map((id) => [id, { type: 'integer', minimum: 0 }])),
            required: [...READING_RULE_IDS],
          },
          warnings: {
            type: 'array',
            items: { type: 'string' },
            description: 'Metadata problems that did not fail the run.',
          },
          failures: {
            type: 'array',
            description: 'Failed objects with their reasons (at most 1,000); a fatal error has an empty key.',
            items: {
              type: 'object',
              properties: { key: { type: 'string' }, reason: { type: 'string' } },
              required: ['key', 'reason'],
            },
          },
          retries: {
            type: 'array',
            description:
              'What was tried again (a retryable fault, a lost worker or loader), by object key (planning: an empty key), with the last reason and how often; at most 1,000. `counts.retried` is the total.',
            items: {
              type: 'object',
              properties: {
                key: { type: 'string' },
                reason: { type: 'string' },
                count: { type: 'integer', minimum: 1 },
              },
              required: ['key', 'reason', 'count'],
            },
          },
          createdAt: { type: 'string', format: 'date-time' },
          startedAt: { type: ['string', 'null'], format: 'date-time' },
          finishedAt: { type: ['string', 'null'], format: 'date-time' },
          recorded: { type: 'boolean', description: 'finished and written into the sink (pv_runs)' },
          planning: {
            type: 'object',
            description:
              "How far planning got: pages (a system's year or month folder, or a prize folder) planned of all, objects enqueued whose outcome has not come yet (kept under PV_PLAN_HIGH_WATER), and whether every page is planned.",
            properties: {
              pagesDone: { type: 'integer', minimum: 0 },
              pages: { type: 'integer', minimum: 0 },
              outstanding: { type: 'integer', minimum: 0 },
              done: { type: 'boolean' },
            },
            required: ['pagesDone', 'pages', 'outstanding', 'done'],
          },
        },
        required: [
          'runId',
          'state',
          'request',
          'counts',
          'replaced',
          'dropped',
          'failures',
          'warnings',
          'createdAt',
          'startedAt',
          'finishedAt',
        ],
      },
      System: {
        type: 'object',
        description: 'A system the source knows (as `pv-pipeline systems --json` lists it).',
        properties: {
          ss_id: { type: 'integer' },
          name: nullable('string', 'public name'),
          timezone: nullable('string', 'zone of its local times, as the systems index gives it'),
          latitude: nullable('number'),
          longitude: nullable('number'),
          capacity_kw: nullable('number', 'DC capacity, kW'),
          first_day: nullable('string', 'first day of its record, YYYY-MM-DD'),
          last_day: nullable('string', 'last day of its record, YYYY-MM-DD'),
          formats: {
            type: 'array',
            items: { enum: ['parquet', 'csv', 'prize'] },
            description: 'formats the source holds data of it in',
          },
          channels: nullable('integer', 'sensor channels, per the systems index'),
        },
        required: [
          'ss_id',
          'name',
          'timezone',
          'latitude',
          'longitude',
          'capacity_kw',
          'first_day',
          'last_day',
          'formats',
          'channels',
        ],
      },
      Status: {
        type: 'object',
        properties: { status: { enum: ['ok', 'unavailable'] }, error: { type: 'string' } },
        required: ['status'],
      },
      Error: {
        type: 'object',
        properties: {
          error: { type: 'string', description: 'What is wrong, naming the field at fault.' },
          issues: {
            type: 'array',
            description: 'Every problem of a rejected trigger (the first one is `error`).',
            items: {
              type: 'object',
              properties: { field: { type: 'string' }, message: { type: 'string' } },
              required: ['field', 'message'],
            },
          },
        },
        required: ['error'],
      },
    },
  },
} as const;
