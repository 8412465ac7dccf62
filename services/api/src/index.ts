export * from './app.js';
export * from './auth.js';
export * from './metrics.js';
export * from './metrics-app.js';
export * from './openapi.js';
export * from './run-trigger.js';
export * from './start-api.js';
