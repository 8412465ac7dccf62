import { type Logger, type LoggerOptions, pino } from 'pino';

/** Fields that scope a log line: which service, run, job, system and object it is about. */
export interface LogScope {
  service?: string;
  run?: string;
  job?: string;
  ss_id?: number;
  key?: string;
  /** The node a process runs on, when a scheduler placed it (Slurm's `SLURMD_NODENAME`). */
  node?: string;
  /** Its task in the job (Slurm's `SLURM_PROCID`). */
  task?: number;
}

export type { Logger };

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** pino level; default `info`, or `silent` when `PV_LOG_LEVEL` was set so by config. */
  level?: string;
  /** Where JSON lines go; default stderr (stdout is kept for `--json` summaries). */
  destination?: NodeJS.WritableStream;
}

/** Paths redacted from every line: credentials must never reach a log. */
const REDACT = [
  'token',
  'authorization',
  'password',
  'secret',
  'accessKeyId',
  'secretAccessKey',
  'sessionToken',
  '*.token',
  '*.authorization',
  '*.password',
  '*.secret',
  '*.secretAccessKey',
  '*.sessionToken',
];

/** A JSON-lines logger with a scope; child scopes via `logger.child({ run, key })`. */
export function createLogger(scope: LogScope, options: CreateLoggerOptions = {}): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    base: { ...scope },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return pino(opts, (options.destination ?? process.stderr) as pino.DestinationStream);
}
