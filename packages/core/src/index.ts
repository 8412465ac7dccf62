export * from './errors.js';
export * from './hash.js';
export * from './logger.js';
export * from './map-concurrent.js';
export * from './types.js';
