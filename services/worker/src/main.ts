// Process entry point of the worker role: configuration, connections and signals only.
import { runServiceMain } from '@pv-pipeline/runtime';
import { startWorker } from './start-worker.js';

await runServiceMain('worker', startWorker);
