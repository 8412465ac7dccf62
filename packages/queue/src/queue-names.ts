/**
 * Queue names and the key prefix. The prefix is a Redis Cluster hash tag
 * (`{pv}`), so every key of every queue and run lands in one slot and BullMQ's
 * multi-key scripts work on a cluster.
 */
export { DEFAULT_QUEUE_PREFIX as DEFAULT_PREFIX } from '@pv-pipeline/core';

/** The queues: plan → transform → load, and cleanup (done by the workers for the loader). */
export const QUEUE_NAMES = {
  /** One job per run: list objects, enqueue transforms. */
  plan: 'plan',
  /** One job per source object (id = hash of key + ETag). */
  transform: 'transform',
  /** Staged manifests, dimension refreshes and run finalization, for the loader. */
  load: 'load',
  /**
   * Staged files of committed batches, removed by the workers where the
   * staging area deletes one file per request (`gs://`): one job per batch,
   * so that the one loader does not pay a request per object.
   */
  cleanup: 'cleanup',
} as const;

export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];
