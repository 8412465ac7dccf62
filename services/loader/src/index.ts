export * from './start-loader.js';
