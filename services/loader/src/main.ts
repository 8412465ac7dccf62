// Process entry point of the loader role: configuration, connections and signals only.
import { runServiceMain } from '@pv-pipeline/runtime';
import { startLoader } from './start-loader.js';

await runServiceMain('loader', startLoader);
