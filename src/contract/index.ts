/**
 * The wire contract of TADS: the zod schemas of every request and response, the one source of
 * the wire's types (server, client, dashboard) and of `/openapi.json`. Imports nothing but zod.
 */
export * from './common.js';
export * from './errors.js';
export * from './datasets.js';
export * from './generator.js';
export * from './jobs.js';
export * from './models.js';
export * from './inference.js';
export * from './alerts.js';
