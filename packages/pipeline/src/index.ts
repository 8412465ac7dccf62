export * from './run-request.js';
export * from './run-summary.js';
export * from './map-concurrent.js';
export * from './plan-objects.js';
export * from './staging-area.js';
export * from './transform-object.js';
export * from './batch-loader.js';
export * from './run-inline.js';
