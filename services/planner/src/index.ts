export * from './start-planner.js';
