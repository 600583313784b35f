/**
 * Shared vocabulary of TADS: the metric and anomaly names in their fixed order, the matrix shape
 * that crosses the native boundary, and the column layout of generated telemetry.
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

/** A dense row-major matrix of doubles: element (i, j) is `data[i * cols + j]`. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** A host of a generated fleet. */
export interface HostInfo {
  hostId: string;
  projectId: string;
  region: string;
}

/**
 * A chunk of generated telemetry as typed columns. Rows are in generation order, which is
 * (ts, host_id) order: time-major, hosts sorted by host id within a time step; `row_id` of row i
 * is `firstRowId + i`.
 */
export interface TelemetryChunk {
  firstRowId: number;
  length: number;
  /** Milliseconds since the Unix epoch, per row. */
  ts: Float64Array;
  /** Index into the fleet's `HostInfo[]`, per row. */
  host: Uint32Array;
  /** The eight metrics, row-major (`length` × 8), in METRICS order. */
  metrics: Float64Array;
  isAnomaly: Uint8Array;
  /** Index into ANOMALY_TYPES, or -1. */
  anomalyType: Int8Array;
  /** Episode id unique within the dataset, or -1. */
  anomalyEpisode: Int32Array;
}
