import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { BadInputError, type Logger, type ServiceConfig } from '@pv-pipeline/core';
import { allQueues, cancelRun, JOB_NAMES, type PipelineQueues, type RunStore } from '@pv-pipeline/queue';
import type { SystemListing } from '@pv-pipeline/stages';
import express, { type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import { pinoHttp } from 'pino-http';
import { presentsToken, requireToken, tokenMatcher } from './auth.js';
import { loggableUrl } from './log-url.js';
import { openApiDocument } from './openapi.js';
import { addReportRoutes } from './report-routes.js';
import { checkTrigger, newRunId, RUN_ID_PATTERN } from './run-trigger.js';

/** What {@link createApiApp} is built from. */
export interface ApiDeps {
  /** The service configuration; `PV_API_TOKEN` must be set. */
  config: ServiceConfig;
  runs: RunStore;
  queues: PipelineQueues;
  /** A non-blocking connection (fails fast while Redis is down): readiness and metrics. */
  redis: Redis;
  /** The systems of the source catalog (the caller caches them). */
  systems: () => Promise<SystemListing[]>;
  /**
   * The ids of a trigger the source does not know (refused with 400).
   * @defaultValue the ids not in {@link systems}
   */
  unknownSystems?: (ids: number[]) => Promise<number[]>;
  logger: Logger;
  /** Triggers (`POST /api/runs`) one client may send per window. @defaultValue `PV_TRIGGER_RATE_LIMIT` per 60,000 ms */
  rateLimit?: { limit: number; windowMs: number };
  /** How long `pv_job_duration_seconds` reuses the job durations it read, ms. @defaultValue 15,000 */
  metricsCacheMs?: number;
}

/** Largest trigger body. */
const BODY_LIMIT = '16kb';
/** Readiness: longest wait for Redis' PING. */
const READY_TIMEOUT_MS = 1000;
/** Paths not logged per request (probes and scrapes). */
const QUIET_PATHS = new Set(['/healthz', '/readyz']);

/**
 * The REST API: run triggers and status, the systems list, the Bull Board
 * dashboard, health and readiness (metrics are served apart: see
 * createMetricsApp). Errors are JSON `{error}`; a 500
 * says only "internal error" and the detail goes to the log.
 */
export function createApiApp(deps: ApiDeps): express.Express {
  const { config, runs, queues, redis, logger } = deps;
  const token = config.PV_API_TOKEN;
  if (!token) throw new BadInputError('PV_API_TOKEN', 'is required: the API never runs without a token');
  const matches = tokenMatcher(token);
  const nonce = randomBytes(8).toString('hex');
  let counter = 0;

  const app = express();
  app.disable('x-powered-by');
  // Behind an Ingress every peer is the proxy: its X-Forwarded-For names the client (req.ip).
  app.set('trust proxy', trustProxySetting(config.PV_TRUST_PROXY));
  // No upgrade-insecure-requests: the dashboard is often reached over plain HTTP inside a cluster.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  app.use(
    pinoHttp<IncomingMessage, ServerResponse>({
      logger,
      genReqId: (_req, res) => {
        const id = randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Only these fields of a request are logged: never headers (Authorization) nor bodies,
      // and the URL with credential-like query values redacted.
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: loggableUrl(req.url),
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req) => QUIET_PATHS.has((req.url ?? '').split('?')[0]!) },
      customLogLevel: (_req, res, err) =>
        err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
    }),
  );

  // ---- public ----------------------------------------------------------------
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  const redisReady = cachedCheck(READY_CACHE_MS, () => pingWithin(redis, READY_TIMEOUT_MS));
  app.get('/readyz', async (_req, res) => {
    if (await redisReady()) res.json({ status: 'ok' });
    else res.status(503).json({ status: 'unavailable', error: 'redis unreachable' });
  });

  app.get('/api/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });

  // ---- behind the token --------------------------------------------------------
  // Guessing the token: past PV_AUTH_FAILURE_LIMIT failed attempts a client's failing attempts are
  // refused for a while; a request with the right token is never counted nor refused.
  // One count per client over every guarded route. Skipped only by the right token (bearer, or the
  // dashboard's Basic password): a wrong guess in either form is counted.
  const guessLimit = authFailureLimit(config.PV_AUTH_FAILURE_LIMIT, logger, presentsToken(matches, true));
  app.use('/api', guessLimit, requireToken(matches));

  const triggerLimit = rateLimit({
    windowMs: deps.rateLimit?.windowMs ?? 60_000,
    limit: deps.rateLimit?.limit ?? config.PV_TRIGGER_RATE_LIMIT,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, res) => {
      res.status(429).json({ error: 'too many run triggers; retry later' });
    },
  });

  app.post('/api/runs', triggerLimit, express.json({ limit: BODY_LIMIT }), async (req, res) => {
    if (!req.is('application/json')) {
      res.status(400).json({ error: 'the body must be JSON (Content-Type: application/json)' });
      return;
    }
    const check = checkTrigger(req.body, { sink: config.PV_SINK.trim(), maxDays: config.PV_MAX_RUN_DAYS });
    if (!check.ok) {
      res.status(400).json({ error: check.issues[0]!.message, issues: check.issues });
      return;
    }
    const { request } = check;
    const asked = request.systems;
    if (asked !== 'all') {
      const unknown = deps.unknownSystems
        ? await deps.unknownSystems(asked)
        : await (async () => {
            const known = new Set((await deps.systems()).map((s) => s.ss_id));
            return asked.filter((id) => !known.has(id));
          })();
      if (unknown.length > 0) {
        res.status(400).json({
          error: `unknown system${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: not in the source's catalog and no data folder there (GET /api/systems lists them)`,
        });
        return;
      }
    }
    const id = newRunId(request, new Date(), nonce, counter++);
    await runs.create(id, request);
    try {
      await queues.plan.add(JOB_NAMES.plan, { runId: id, request }, { jobId: id });
    } catch (err) {
      // Not left "queued" forever: the run record says why it never started.
      await runs.fail(id, 'the run could not be queued').catch(() => {});
      throw err;
    }
    req.log.info({ run: id, request }, 'run queued');
    const self = `/api/runs/${id}`;
    res.status(202).location(self).json({ runId: id, state: 'queued', request, links: { self } });
  });

  app.get('/api/runs', async (req, res) => {
    const raw = req.query.limit;
    let limit = 50;
    if (raw !== undefined) {
      limit = typeof raw === 'string' && /^\d{1,3}$/.test(raw) ? Number(raw) : Number.NaN;
      if (!(limit >= 1 && limit <= 200)) {
        res.status(400).json({ error: 'limit must be an integer from 1 to 200' });
        return;
      }
    }
    res.json({ runs: await runs.list(limit) });
  });

  app.get('/api/runs/:id', async (req, res) => {
    const id = req.params.id;
    const run = RUN_ID_PATTERN.test(id) ? await runs.get(id) : null;
    if (!run) {
      res.status(404).json({ error: `no run "${id.slice(0, 128)}"` });
      return;
    }
    res.json(run);
  });

  app.delete('/api/runs/:id', async (req, res) => {
    const id = req.params.id;
    const done = RUN_ID_PATTERN.test(id) ? await cancelRun(runs, queues, id) : null;
    if (!done) {
      res.status(404).json({ error: `no run "${id.slice(0, 128)}"` });
      return;
    }
    if (done.was !== 'queued' && done.was !== 'running') {
      res
        .status(409)
        .json({ error: `run ${id} is already ${done.was}: only a queued or running run can be cancelled` });
      return;
    }
    req.log.info({ run: id, removed: done.removed }, 'run cancelled');
    res.json(await runs.get(id));
  });

  app.get('/api/systems', async (_req, res) => {
    res.json({ systems: await deps.systems() });
  });

  // ---- the quality report and the runs page (browsers: basic auth with the token as password) --
  app.use(['/report', '/runs'], guessLimit, requireToken(matches, { allowBasic: true }));
  addReportRoutes(app, config.PV_REPORT_DIR, runs);

  // ---- dashboard ----------------------------------------------------------------
  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({
    queues: allQueues(queues).map((q) => new BullMQAdapter(q)),
    // @bull-board/express 9.10.1 pins its own @bull-board/api 9.10.1: same shape, separate declarations.
    serverAdapter: board as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: { uiConfig: { boardTitle: 'pv-pipeline' } },
  });
  // The board is an Express app of its own: it would announce itself in X-Powered-By.
  const boardApp = board.getRouter() as express.Express;
  boardApp.disable('x-powered-by');
  app.use('/admin/queues', guessLimit, requireToken(matches, { allowBasic: true }), boardApp as RequestHandler);

  // ---- fallbacks ----------------------------------------------------------------
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  app.use(errorHandler);
  return app;
}

/** The window of PV_AUTH_FAILURE_LIMIT. */
const AUTH_FAILURE_WINDOW_MS = 15 * 60_000;

/**
 * Counts a client's failing attempts (requests without the right token) per
 * 15 minutes; past `limit` its failing attempts are answered 429 until the
 * window ends. A request with the right token skips the limiter: it is never
 * counted and never refused, whatever others sent from the same address.
 * `limit` 0 turns it off.
 */
function authFailureLimit(limit: number, logger: Logger, authorized: (req: Request) => boolean): RequestHandler {
  if (limit === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: AUTH_FAILURE_WINDOW_MS,
    limit,
    skip: authorized,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (req, res) => {
      logger.warn({ client: req.ip, limit }, 'too many failed authentications');
      res.status(429).json({ error: 'too many failed authentications; retry later' });
    },
  });
}

/**
 * Express's `trust proxy` from PV_TRUST_PROXY: a hop count, or a list of
 * addresses/CIDRs (or express' names loopback, linklocal, uniquelocal);
 * none trusts no proxy (the peer is the client).
 */
export function trustProxySetting(value: string | undefined): number | string[] | false {
  if (value === undefined || value.trim() === '') return false;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  return value.split(',').map((v) => v.trim());
}

/** Readiness: how long a Redis check answers for the calls after it. */
const READY_CACHE_MS = 1000;

/** Whether Redis answers a PING within `timeoutMs`. */
async function pingWithin(redis: Redis, timeoutMs: number): Promise<boolean> {
  const ac = new AbortController();
  const ok = await Promise.race([
    redis.ping().then(
      () => true,
      () => false,
    ),
    sleep(timeoutMs, false, { signal: ac.signal }).catch(() => false),
  ]);
  ac.abort();
  return ok;
}

/**
 * A check run at most once per `ttlMs`: calls in between get its last answer,
 * and calls while it runs share that run (a flood of probes costs one PING a
 * second).
 */
export function cachedCheck(ttlMs: number, check: () => Promise<boolean>): () => Promise<boolean> {
  let last: { at: number; ok: boolean } | null = null;
  let running: Promise<boolean> | null = null;
  return async () => {
    if (last && Date.now() - last.at < ttlMs) return last.ok;
    running ??= check()
      .catch(() => false)
      .then((ok) => {
        last = { at: Date.now(), ok };
        return ok;
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
}

/** Client messages of the body parser's errors, by their `type`. */
const BODY_ERRORS: Record<string, string> = {
  'entity.too.large': `the body is larger than ${BODY_LIMIT.replace('kb', ' kB')}`,
  'entity.parse.failed': 'the body is not valid JSON',
  'encoding.unsupported': 'unsupported Content-Encoding',
  'charset.unsupported': 'unsupported charset (use UTF-8)',
  'request.aborted': 'the request was aborted',
  'entity.verify.failed': 'the body was refused',
  'request.size.invalid': 'the body does not match its Content-Length',
};

/**
 * The final error handler: a client error (4xx from the body parser or an
 * http-error) keeps its status with a fixed, safe message; anything else is a
 * logged 500 `{"error":"internal error"}`, never a stack or a path.
 */
const errorHandler: ErrorRequestHandler = (err, req: Request, res, next) => {
  if (res.headersSent) {
    next(err);
    return;
  }
  const e = (err ?? {}) as {
    status?: unknown;
    statusCode?: unknown;
    type?: unknown;
    expose?: unknown;
    message?: unknown;
  };
  const status = Number(e.status ?? e.statusCode);
  if (Number.isInteger(status) && status >= 400 && status < 500) {
    const known = typeof e.type === 'string' ? BODY_ERRORS[e.type] : undefined;
    const message = known ?? (e.expose === true && typeof e.message === 'string' ? e.message : 'bad request');
    res.status(status).json({ error: message });
    return;
  }
  req.log.error({ err }, 'request failed');
  res.status(500).json({ error: 'internal error' });
};
