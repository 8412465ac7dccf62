// Process entry point of the loader role: configuration, connections and signals only.
import { runServiceMain } from '@pv-pipeline/queue';
import { startLoader } from './start-loader.js';

await runServiceMain('loader', startLoader);
