// Process entry point of the planner role: configuration, connections and signals only.
import { runServiceMain } from '@pv-pipeline/queue';
import { startPlanner } from './start-planner.js';

await runServiceMain('planner', startPlanner);
