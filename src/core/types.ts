/**
 * Shared types of TADS's core: the matrix shape that crosses the native boundary, the hosts and
 * the column layout of generated telemetry, and (from src/contract/vocabulary.ts) the metric and
 * anomaly names in their fixed order.
 */

export { ANOMALY_TYPES, METRICS, type AnomalyType, type MetricName } from '../contract/vocabulary.js';

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
