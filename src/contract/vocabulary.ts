/**
 * The fixed vocabulary of TADS, one list each: the generator's eight metrics in model and column
 * order and its two labels, the rule for any dataset's metric and label names, the dataset
 * sources, and the injected anomaly types in code order. It imports nothing, so the wire
 * contract, the library's core and the dashboard all read the same lists.
 */

/**
 * A metric's or label's name (DESIGN.md "Metric sets are data, not code"): Prometheus' names,
 * plus dots for OpenTelemetry's; at most 200 characters.
 */
export const METRIC_NAME_PATTERN = /^[A-Za-z_:][A-Za-z0-9_:.]{0,199}$/;

/** Most metrics a dataset declares (the native core's own limit is higher). */
export const MAX_METRICS = 1024;

/** Most text labels a dataset declares. */
export const MAX_LABELS = 16;

/** Names a label or metric cannot take: the record's own fields. */
export const RESERVED_NAMES = ['ts', 'host_id', 'is_anomaly', 'anomaly_type', 'anomaly_episode'] as const;

/** Where a dataset's rows come from. */
export const DATASET_SOURCES = ['generator', 'csv', 'smd'] as const;
/** One of {@link DATASET_SOURCES}. */
export type DatasetSource = (typeof DATASET_SOURCES)[number];

/** The generator's text labels, per record. */
export const GENERATOR_LABELS = ['project_id', 'region'] as const;

/** The generator's eight telemetry metrics, in model and column order. */
export const METRICS = [
  'cpu_usage',
  'memory_usage',
  'disk_io',
  'network_in',
  'network_out',
  'load_avg',
  'latency_ms',
  'error_rate',
] as const;
/** One of {@link METRICS}. */
export type MetricName = (typeof METRICS)[number];

/**
 * The eight metrics of a record that carries them among its fields (a wire record), as an object
 * of their own (a metric the record lacks stays undefined).
 */
export function metricsOf<T>(r: Readonly<Record<MetricName, T>>): Record<MetricName, T>;
export function metricsOf<T>(r: Readonly<Partial<Record<MetricName, T>>>): Partial<Record<MetricName, T>>;
export function metricsOf<T>(r: Readonly<Partial<Record<MetricName, T>>>): Partial<Record<MetricName, T>> {
  return {
    cpu_usage: r.cpu_usage,
    memory_usage: r.memory_usage,
    disk_io: r.disk_io,
    network_in: r.network_in,
    network_out: r.network_out,
    load_avg: r.load_avg,
    latency_ms: r.latency_ms,
    error_rate: r.error_rate,
  };
}

/**
 * Names of the detector policies (src/core/detector.ts): the rule over the per-record scores that
 * flags records and raises alerts, as chosen for a job and stored with it.
 */
export const POLICY_NAMES = ['default', 'smoothed'] as const;
/** One of {@link POLICY_NAMES}. */
export type PolicyName = (typeof POLICY_NAMES)[number];

/** Injected anomaly types; an anomaly type's code is its index here (-1 for none). */
export const ANOMALY_TYPES = [
  'spike',
  'drift',
  'level_shift',
  'stuck',
  'noise_burst',
  'correlation_break',
] as const;
/** One of {@link ANOMALY_TYPES}. */
export type AnomalyType = (typeof ANOMALY_TYPES)[number];

/** What a generated dataset declares: its source, the eight metrics and the two labels. */
export const GENERATOR_METRIC_SET = Object.freeze({
  source: 'generator',
  metrics: METRICS,
  labels: GENERATOR_LABELS,
} as const);
