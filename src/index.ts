/**
 * The TADS library: the PCA core, the telemetry generator, alerting, evaluation and sharding,
 * with no database, server or network client loaded.
 */

/** This library's version (the package's). */
export const version = '0.1.0';

export { METRICS, ANOMALY_TYPES } from './core/types.js';
export type { Matrix, MetricName, AnomalyType, HostInfo, TelemetryChunk } from './core/types.js';
export {
  PcaModel,
  PcaAccumulator,
  PcaError,
  fitPca,
  fitPcaAsync,
  robustStats,
  scoreBatch,
  allocateScoreOutput,
  defaultMetricNames,
} from './core/pca.js';
export type {
  FitOptions,
  ModelMeta,
  RobustStats,
  ScoreOutput,
  ScoreOptions,
  ModelJson,
  SpeLimitInfo,
} from './core/pca.js';
export { modelJsonSchema, SPE_LIMIT_METHODS } from './core/model-json.js';
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
export { fnv1a32, shardOf, ownsHost } from './core/sharding.js';
export {
  POLICY_NAMES,
  DEFAULT_POLICY,
  SMOOTHED_POLICY,
  policyByName,
  alertOptionsFor,
  PolicyFilter,
  Detector,
} from './core/detector.js';
export type {
  PolicyName,
  DetectorPolicy,
  PolicyInput,
  PolicyOutput,
  DetectorOptions,
  DetectorResumeState,
} from './core/detector.js';
export { columnMap, toModelColumns, recordsToMatrix } from './core/column-map.js';
export type { ColumnMap, MetricValues } from './core/column-map.js';
export { AlertManager } from './core/alerts.js';
export type {
  AlertRecord,
  AlertEvent,
  AlertInput,
  AlertBatch,
  AlertManagerOptions,
  ResolvedAlertOptions,
  AlertManagerState,
  AlertHostState,
} from './core/alerts.js';
export {
  pointwiseMetrics,
  rocAuc,
  averagePrecision,
  rankingMetrics,
  rocCurve,
  prCurve,
  eventMetrics,
} from './core/evaluation.js';
export type {
  Confusion,
  PointwiseMetrics,
  RankingMetric,
  RankingMetrics,
  RocPoint,
  PrPoint,
  Curve,
  Scores,
  EpisodeSpan,
  AlertSpan,
  EventMetricsInput,
  EpisodeDetection,
  TypeEventMetrics,
  EventMetrics,
} from './core/evaluation.js';
export { CsvParser } from './core/import/csv.js';
export type { CsvImportOptions } from './core/import/csv.js';
export { SmdParser, SmdLabelParser } from './core/import/smd.js';
export type { SmdImportOptions } from './core/import/smd.js';
export { parseImport } from './core/import/parser.js';
export type { ImportBatch, ImportColumns, ImportParser } from './core/import/parser.js';
export { MAX_LINE_BYTES } from './core/import/records.js';
export { ENTITY_PATTERN, smdMetricNames } from './core/import/metric-names.js';
export {
  METRIC_NAME_PATTERN,
  MAX_METRICS,
  MAX_LABELS,
  RESERVED_NAMES,
  GENERATOR_LABELS,
  DATASET_SOURCES,
  type DatasetSource,
} from './contract/vocabulary.js';
export { ImportError } from './core/errors.js';
export type { ImportLocation } from './core/errors.js';
