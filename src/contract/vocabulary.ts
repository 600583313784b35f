/**
 * The fixed vocabulary of TADS, one list each: the eight metrics in model and column order, and
 * the injected anomaly types in code order. It imports nothing, so the wire contract, the
 * library's core and the dashboard all read the same lists.
 */

/** The eight telemetry metrics, in model and column order. */
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
