export * from './fake-engine.js';
export * from './fake-server.js';
export * from './faults.js';
export * from './googlesql.js';
export * from './row-validation.js';
