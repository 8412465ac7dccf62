export { type RedisLink, type StepEnd, untilRedisDown, whileRedisUp } from './redis-step.js';
export { type RunningService, runServiceMain, type ServiceStarter } from './service-main.js';
export { catalogProvider, openServiceStaging, openSource } from './service-source.js';
export { withGrace } from './with-grace.js';
