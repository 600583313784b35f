export const version = '0.1.0';
export {
  generateTelemetry,
  liveTelemetry,
  parseGenerateParams,
  GENERATOR_MODEL,
  DEFAULT_CHUNK_ROWS,
  MAX_CHUNK_ROWS,
} from './core/generator.js';
export type {
  GeneratedTelemetry,
  GenerateOptions,
  AnomalyEpisode,
  HostMetricStats,
  LiveTelemetry,
  LiveOptions,
} from './core/generator.js';
export {
  GenerateParamsSchema,
  GenerateParamsWireSchema,
  GENERATOR_LIMITS,
  GENERATOR_DEFAULTS,
  generateParamsToWire,
} from './contract/generator.js';
export type { GenerateParams, GenerateParamsInput, GenerateParamsWire } from './contract/generator.js';
export { Random, fmix32, MAX_SEED } from './core/random.js';
