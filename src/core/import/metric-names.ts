/**
 * The names an imported dataset declares (DESIGN.md, "Metric sets are data, not code"): the
 * rule for metric and label names (their pattern and limits are the vocabulary's), entity names,
 * and the names SMD's columns get.
 */
import { METRIC_NAME_PATTERN, RESERVED_NAMES } from '../../contract/vocabulary.js';

/**
 * An entity's name (`host_id` on the wire), 1–200 letters, digits, dots, underscores, colons or
 * hyphens: the rule of the analytics' `host_id` filter, so every imported entity can be asked
 * about.
 */
export const ENTITY_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/;

/** True when `name` is a valid metric or label name: the pattern, and not a record's own field. */
export function isMetricName(name: string): boolean {
  return METRIC_NAME_PATTERN.test(name) && !(RESERVED_NAMES as readonly string[]).includes(name);
}

/**
 * The metric names of an SMD file of width `d`: `m01` … `m38` (zero-padded to two digits, or to
 * as many as `d` has).
 *
 * @param d - the number of columns, 1 – 1,024 (the vocabulary's MAX_METRICS)
 */
export function smdMetricNames(d: number): string[] {
  const width = Math.max(2, String(d).length);
  return Array.from({ length: d }, (_, j) => `m${String(j + 1).padStart(width, '0')}`);
}
