/**
 * The names an imported dataset declares (DESIGN.md, "Metric sets are data, not code"): metric
 * and label names, their limits, and the names SMD's columns get.
 */

/** A metric or label name: a Prometheus name, plus dots for OpenTelemetry's; 1–200 characters. */
export const METRIC_NAME_PATTERN = /^[A-Za-z_:][A-Za-z0-9_:.]{0,199}$/;

/** Most metrics a dataset declares. */
export const MAX_METRICS = 1024;

/** Most text labels a dataset declares. */
export const MAX_LABELS = 16;

/** Names a label column cannot take: they already name a record's entity and anomaly type. */
export const RESERVED_LABEL_NAMES: readonly string[] = ['host_id', 'anomaly_type'];

/**
 * An entity's name (`host_id` on the wire), 1–200 letters, digits, dots, underscores, colons or
 * hyphens: the rule of the analytics' `host_id` filter, so every imported entity can be asked
 * about.
 */
export const ENTITY_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/;

/** True when `name` is a valid metric or label name. */
export function isMetricName(name: string): boolean {
  return METRIC_NAME_PATTERN.test(name);
}

/**
 * The metric names of an SMD file of width `d`: `m01` … `m38` (zero-padded to two digits, or to
 * as many as `d` has).
 *
 * @param d - the number of columns, 1 – {@link MAX_METRICS}
 */
export function smdMetricNames(d: number): string[] {
  const width = Math.max(2, String(d).length);
  return Array.from({ length: d }, (_, j) => `m${String(j + 1).padStart(width, '0')}`);
}
