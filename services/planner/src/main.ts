// Process entry point of the planner role: configuration, connections and signals only.
import { runServiceMain } from '@pv-pipeline/runtime';
import { startPlanner } from './start-planner.js';

await runServiceMain('planner', startPlanner);
