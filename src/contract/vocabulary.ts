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
export type MetricName = (typeof METRICS)[number];

/** Injected anomaly types; an anomaly type's code is its index here (-1 for none). */
export const ANOMALY_TYPES = [
  'spike',
  'drift',
  'level_shift',
  'stuck',
  'noise_burst',
  'correlation_break',
] as const;
export type AnomalyType = (typeof ANOMALY_TYPES)[number];
