/**
 * An HTTP proxy on 127.0.0.1 in front of an S3-protocol server that injects
 * faults into a share of the requests, chosen by a seeded PRNG:
 *
 * - `error500` (InternalError), `error503` (ServiceUnavailable), `slowDown`
 *   (503 SlowDown): an S3 XML error reply, the request never reaches the server;
 * - `reset`: the connection is reset before any reply;
 * - `slowBody`: the server's reply, its body sent in small pieces with pauses;
 * - `truncatedBody`: the server's reply with its full Content-Length, but the
 *   connection is cut after half of the body (what a dropped connection does).
 *
 * Body faults apply only to replies with a body (a 200 with bytes); a request
 * drawn for one that has none passes untouched and is not counted.
 *
 * ```ts
 * const proxy = await startS3FaultProxy({ target: s3.endpoint, rate: 0.2, seed: 7 });
 * // S3_ENDPOINT=proxy.url …
 * proxy.injected;   // { error500: 3, reset: 2, … }
 * ```
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { prng } from '../support/bigquery-fake/faults.js';

/** The kinds of fault the proxy injects. */
export const S3_FAULT_KINDS = ['error500', 'error503', 'slowDown', 'reset', 'slowBody', 'truncatedBody'] as const;
/** One of {@link S3_FAULT_KINDS}. */
export type S3FaultKind = (typeof S3_FAULT_KINDS)[number];

/** Options of {@link startS3FaultProxy}; `rate`, `kinds` and `burst` may be changed later on the proxy. */
export interface S3FaultProxyOptions {
  /** The S3-protocol server, e.g. `http://127.0.0.1:4569`. */
  target: string;
  /** Share of requests given a fault, 0–1. Default 0 (a plain proxy). */
  rate?: number;
  /** Seed of the fault PRNG: the same seed draws the same sequence. Default 1. */
  seed?: number;
  /** Kinds drawn from, uniformly. Default all of {@link S3_FAULT_KINDS}. */
  kinds?: readonly S3FaultKind[];
  /**
   * Once a request is drawn for a fault, this many requests in a row for the
   * same URL get it (more than the client's own attempts makes the fault reach
   * the pipeline's retries). Default 1.
   */
  burst?: number;
  /** Pause between the pieces of a slow body, ms. Default 40 (the body in 8 pieces). */
  slowPauseMs?: number;
  /** Delay before every request is answered or forwarded (a slow network, not counted as a fault). Default 0. */
  latencyMs?: number;
}

/** A running fault proxy. */
export interface S3FaultProxy {
  /** `http://127.0.0.1:PORT`: use as the S3 endpoint. */
  readonly url: string;
  rate: number;
  kinds: readonly S3FaultKind[];
  burst: number;
  latencyMs: number;
  /** Faults injected so far, by kind. */
  readonly injected: Record<S3FaultKind, number>;
  /** Every fault injected, in order: its kind and the request it hit (`GET /bucket/key`). */
  readonly log: Array<{ kind: S3FaultKind; request: string }>;
  /** Requests seen so far. */
  readonly requests: () => number;
  /** Sum of {@link injected}. */
  total(): number;
  stop(): Promise<void>;
}

const ERRORS: Record<'error500' | 'error503' | 'slowDown', { status: number; code: string; message: string }> = {
  error500: { status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' },
  error503: { status: 503, code: 'ServiceUnavailable', message: 'Please reduce your request rate.' },
  slowDown: { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
};

/** Starts the proxy on a free port of 127.0.0.1. */
export async function startS3FaultProxy(options: S3FaultProxyOptions): Promise<S3FaultProxy> {
  const target = new URL(options.target);
  const random = prng(options.seed ?? 1);
  const injected = Object.fromEntries(S3_FAULT_KINDS.map((k) => [k, 0])) as Record<S3FaultKind, number>;
  const bursts = new Map<string, { kind: S3FaultKind; left: number }>();
  const sockets = new Set<Socket>();
  const count = (kind: S3FaultKind, req: IncomingMessage) => {
    injected[kind]++;
    proxy.log.push({ kind, request: `${req.method} ${req.url}` });
  };
  const pauseMs = options.slowPauseMs ?? 40;
  let requests = 0;

  const proxy = {
    url: '',
    rate: options.rate ?? 0,
    kinds: options.kinds ?? S3_FAULT_KINDS,
    burst: options.burst ?? 1,
    latencyMs: options.latencyMs ?? 0,
    injected,
    log: [] as Array<{ kind: S3FaultKind; request: string }>,
    requests: () => requests,
    total: () => Object.values(injected).reduce((s, n) => s + n, 0),
    stop: async (): Promise<void> => undefined,
  } satisfies S3FaultProxy;

  /** The fault of this request, if any (bursts first, then a draw). */
  const draw = (url: string): S3FaultKind | null => {
    const b = bursts.get(url);
    if (b && b.left > 0) {
      b.left--;
      return b.kind;
    }
    if (proxy.rate <= 0 || proxy.kinds.length === 0 || random() >= proxy.rate) return null;
    const kind = proxy.kinds[Math.floor(random() * proxy.kinds.length)]!;
    if (proxy.burst > 1) bursts.set(url, { kind, left: proxy.burst - 1 });
    return kind;
  };

  const forward = (req: IncomingMessage, res: ServerResponse, fault: 'slowBody' | 'truncatedBody' | null) => {
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers, // Host unchanged: the signature covers it
      },
      (up) => {
        const length = Number(up.headers['content-length'] ?? 0);
        if (!fault || up.statusCode !== 200 || length === 0) {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          return;
        }
        count(fault, req);
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => void sendFaulty(res, up, Buffer.concat(chunks), fault, pauseMs));
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  };

  const server: Server = createServer(async (req, res) => {
    requests++;
    if (proxy.latencyMs > 0) await new Promise((r) => setTimeout(r, proxy.latencyMs));
    const fault = draw(`${req.method} ${req.url}`);
    if (fault === 'reset') {
      count('reset', req);
      req.resume();
      req.socket.resetAndDestroy();
      return;
    }
    if (fault === 'error500' || fault === 'error503' || fault === 'slowDown') {
      count(fault, req);
      req.resume();
      const e = ERRORS[fault];
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${e.code}</Code><Message>${e.message}</Message><RequestId>chaos</RequestId></Error>`;
      res.writeHead(e.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    forward(req, res, fault);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  proxy.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  proxy.stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return proxy;
}

/** Sends a reply whose body is slow (in pieces) or cut after half of it. */
async function sendFaulty(
  res: ServerResponse,
  up: IncomingMessage,
  body: Buffer,
  fault: 'slowBody' | 'truncatedBody',
  pauseMs: number,
): Promise<void> {
  res.writeHead(200, up.headers);
  if (fault === 'truncatedBody') {
    res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.resetAndDestroy());
    return;
  }
  const piece = Math.max(1, Math.ceil(body.length / 8));
  for (let at = 0; at < body.length; at += piece) {
    if (res.destroyed) return;
    res.write(body.subarray(at, at + piece));
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  res.end();
}
