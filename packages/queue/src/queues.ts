import { type Job, type JobState, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { defaultJobOptions, type QueueTuning } from './job-options.js';
import type { CleanupJobData, LoadJobData, PlanJobData, TransformJobData } from './job-payloads.js';
import { QUEUE_NAMES } from './queue-names.js';

/** The queues of a deployment, sharing one connection. */
export interface PipelineQueues {
  plan: Queue<PlanJobData>;
  transform: Queue<TransformJobData>;
  load: Queue<LoadJobData>;
  cleanup: Queue<CleanupJobData>;
  /** Closes the queues (not the connection). */
  close(): Promise<void>;
}

/** Opens the plan, transform, load and cleanup queues with the shared retention, retry and stream settings. */
export function openQueues(connection: Redis, prefix: string, tuning: QueueTuning): PipelineQueues {
  const common = {
    connection,
    prefix,
    defaultJobOptions: defaultJobOptions(tuning),
    streams: { events: { maxLen: tuning.eventsMaxLen } },
  };
  const plan = new Queue<PlanJobData>(QUEUE_NAMES.plan, common);
  const transform = new Queue<TransformJobData>(QUEUE_NAMES.transform, common);
  const load = new Queue<LoadJobData>(QUEUE_NAMES.load, common);
  const cleanup = new Queue<CleanupJobData>(QUEUE_NAMES.cleanup, common);
  return {
    plan,
    transform,
    load,
    cleanup,
    async close() {
      await Promise.all([plan.close(), transform.close(), load.close(), cleanup.close()]);
    },
  };
}

/** Every queue of a deployment, in pipeline order (for error listeners, metrics and the dashboard). */
export function allQueues(queues: PipelineQueues): Queue[] {
  return [queues.plan, queues.transform, queues.load, queues.cleanup];
}

/**
 * Adds a job with a derived id. A job with that id that already finished
 * (completed or failed, still retained) is removed first so that the work is
 * done again; one that is waiting or active is left alone (adding is then a
 * no-op, which is what makes planning twice enqueue nothing twice).
 */
export async function addFresh<T>(
  queue: Queue<T>,
  name: string,
  data: T,
  jobId: string,
  /** The job's state when the caller has just read it. @defaultValue read here */
  known?: JobState | 'unknown',
): Promise<Job<T>> {
  const state = known ?? (await queue.getJobState(jobId));
  if (state === 'completed' || state === 'failed') await queue.remove(jobId);
  // biome-ignore lint/suspicious/noExplicitAny: BullMQ's generic name/data typing is not inferable here
  return (queue as Queue<any>).add(name, data, { jobId }) as Promise<Job<T>>;
}

/**
 * Whether no readings can reach the loader soon: no plan or transform job waiting,
 * active, delayed (a retry) or prioritized, and no load job waiting. One Redis
 * round trip per queue.
 */
export async function upstreamIdle(queues: PipelineQueues): Promise<boolean> {
  const upstream = ['waiting', 'active', 'delayed', 'prioritized'] as const;
  const counts = await Promise.all([
    queues.plan.getJobCounts(...upstream),
    queues.transform.getJobCounts(...upstream),
    queues.load.getJobCounts('waiting', 'prioritized'),
  ]);
  return counts.every((c) => Object.values(c).every((n) => n === 0));
}
