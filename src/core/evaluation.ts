/**
 * Evaluation of a model's scores and alerts against the labels (DESIGN.md "Evaluation"):
 * point-wise precision/recall/F1 at the model's own flag, ROC-AUC with ties averaged, PR-AUC as
 * scikit-learn's step-wise average precision, downsampled ROC and PR curves for plotting, and
 * event-level figures from alerts and labelled episodes. A figure that is undefined is null, never
 * 0 or NaN.
 *
 * Scores of invalid records are NaN: the ranking figures leave them out and report how many they
 * left out (`excluded`); their labels do not count as positives or negatives there. Point-wise
 * figures keep every record, an invalid one counting as not flagged (DESIGN.md: an invalid record
 * is not anomalous).
 *
 * The ranking figures take O(n log n) time over typed arrays: the valid scores are copied into two
 * Float64Arrays (positives, negatives), each sorted natively, and merged from the top, so memory
 * is 8 bytes per valid record beyond the inputs.
 */
import { describe } from './check.js';

/** Counts of the point-wise confusion matrix. */
export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** Point-wise figures; null where undefined. */
export interface PointwiseMetrics {
  /** tp / (tp + fp); null when nothing is flagged. */
  precision: number | null;
  /** tp / (tp + fn); null when there are no positive labels. */
  recall: number | null;
  /** 2 tp / (2 tp + fp + fn); null when precision or recall is null. */
  f1: number | null;
  confusion: Confusion;
}

/** A ranking figure with the counts it was computed from. */
export interface RankingMetric {
  /** The figure, or null where undefined (see each function). */
  value: number | null;
  /** Valid records with a positive label. */
  positives: number;
  /** Valid records with a negative label. */
  negatives: number;
  /** Records left out because their score is NaN. */
  excluded: number;
}

/** ROC-AUC and average precision from one sort (see {@link rankingMetrics}). */
export interface RankingMetrics {
  rocAuc: number | null;
  averagePrecision: number | null;
  positives: number;
  negatives: number;
  excluded: number;
}

/** A point of a ROC curve; threshold null is the start point (nothing flagged). */
export interface RocPoint {
  threshold: number | null;
  fpr: number;
  tpr: number;
}

/** A point of a PR curve; threshold null is the start point (recall 0, precision 1). */
export interface PrPoint {
  threshold: number | null;
  precision: number;
  recall: number;
}

/** A curve with the counts it was computed from; points are empty when the curve is undefined. */
export interface Curve<P> {
  points: P[];
  positives: number;
  negatives: number;
  excluded: number;
}

/** Scores as typed arrays of doubles or floats. */
export type Scores = Float64Array | Float32Array;

/**
 * Point-wise precision, recall, F1 and confusion matrix.
 *
 * @param labels - shape (n,): 1 (any non-zero) for an anomalous record, 0 otherwise.
 * @param flags - shape (n,): 1 (any non-zero) where the model flagged the record.
 * @throws TypeError when an input is not a Uint8Array; RangeError when the lengths differ.
 * @example
 * pointwiseMetrics(Uint8Array.of(1, 0, 1), Uint8Array.of(1, 1, 0));
 * // { precision: 0.5, recall: 0.5, f1: 0.5, confusion: { tp: 1, fp: 1, tn: 0, fn: 1 } }
 */
export function pointwiseMetrics(labels: Uint8Array, flags: Uint8Array): PointwiseMetrics {
  checkTyped('labels', labels, [Uint8Array]);
  checkTyped('flags', flags, [Uint8Array]);
  checkSameLength('flags', flags, labels);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i] !== 0;
    const f = flags[i] !== 0;
    if (f) {
      if (y) tp++;
      else fp++;
    } else if (y) fn++;
  }
  const tn = labels.length - tp - fp - fn;
  const precision = tp + fp > 0 ? tp / (tp + fp) : null;
  const recall = tp + fn > 0 ? tp / (tp + fn) : null;
  const f1 = precision !== null && recall !== null ? (2 * tp) / (2 * tp + fp + fn) : null;
  return { precision, recall, f1, confusion: { tp, fp, tn, fn } };
}

/**
 * ROC-AUC with ties averaged: the Mann–Whitney probability that a positive scores above a
 * negative, a tie counting one half. NaN scores are left out.
 *
 * @param labels - shape (n,): non-zero for positive.
 * @param scores - shape (n,): higher means more anomalous; NaN marks an invalid record.
 * @returns value null when there is no positive or no negative among the valid records.
 * @throws TypeError / RangeError for inputs of the wrong type or length.
 * @example
 * rocAuc(Uint8Array.of(0, 0, 1, 1), Float64Array.of(0.1, 0.4, 0.35, 0.8)).value; // 0.75
 */
export function rocAuc(labels: Uint8Array, scores: Scores): RankingMetric {
  const m = rankingMetrics(labels, scores);
  return { value: m.rocAuc, positives: m.positives, negatives: m.negatives, excluded: m.excluded };
}

/**
 * Average precision exactly as scikit-learn's `average_precision_score`: thresholds are the
 * distinct scores in descending order (tied scores form one threshold), and
 * AP = Σₖ (Rₖ − Rₖ₋₁) · Pₖ with R₀ = 0. NaN scores are left out.
 *
 * @param labels - shape (n,): non-zero for positive.
 * @param scores - shape (n,): higher means more anomalous; NaN marks an invalid record.
 * @returns value null when there is no positive among the valid records (1 when all are positive).
 * @throws TypeError / RangeError for inputs of the wrong type or length.
 * @example
 * averagePrecision(Uint8Array.of(0, 0, 1, 1), Float64Array.of(0.1, 0.4, 0.35, 0.8)).value; // 0.8333…
 */
export function averagePrecision(labels: Uint8Array, scores: Scores): RankingMetric {
  const m = rankingMetrics(labels, scores);
  return {
    value: m.averagePrecision,
    positives: m.positives,
    negatives: m.negatives,
    excluded: m.excluded,
  };
}

/**
 * ROC-AUC and average precision with one sort, for large inputs (10M scores).
 *
 * @param labels - shape (n,): non-zero for positive.
 * @param scores - shape (n,): NaN marks an invalid record, left out.
 * @throws TypeError / RangeError for inputs of the wrong type or length.
 */
export function rankingMetrics(labels: Uint8Array, scores: Scores): RankingMetrics {
  const split = splitSorted(labels, scores);
  const P = split.pos.length;
  const N = split.neg.length;
  let u = 0; // Mann–Whitney U: pairs with positive > negative, ties counted 1/2
  let ap = 0;
  forEachThreshold(split, (_v, tpGroup, fpGroup, tpCum, fpCum) => {
    if (tpGroup === 0) return;
    // Negatives strictly below this score: N − fpCum; tied ones count one half each.
    u += tpGroup * (N - fpCum + 0.5 * fpGroup);
    // The recall step of this threshold times its precision.
    ap += (tpGroup / P) * (tpCum / (tpCum + fpCum));
  });
  return {
    rocAuc: P > 0 && N > 0 ? u / (P * N) : null,
    averagePrecision: P > 0 ? ap : null,
    positives: P,
    negatives: N,
    excluded: split.excluded,
  };
}

/**
 * The ROC curve from the start point (nothing flagged) to (1, 1), one point per distinct score
 * (descending thresholds: a record is flagged when its score ≥ threshold), downsampled to at most
 * `maxPoints` points: when there are more, the kept points are the first ones reaching each of
 * `maxPoints − 1` evenly spaced steps of (fpr + tpr) / 2, which grows monotonically from 0 to 1,
 * so steep and flat parts are both drawn. The first and last points are always kept.
 *
 * @param labels - shape (n,): non-zero for positive.
 * @param scores - shape (n,): NaN marks an invalid record, left out.
 * @param maxPoints - integer ≥ 2, default 201.
 * @returns empty points when there is no positive or no negative.
 * @throws TypeError / RangeError for bad inputs or maxPoints.
 */
export function rocCurve(labels: Uint8Array, scores: Scores, maxPoints = 201): Curve<RocPoint> {
  checkMaxPoints(maxPoints);
  const split = splitSorted(labels, scores);
  const P = split.pos.length;
  const N = split.neg.length;
  const counts = { positives: P, negatives: N, excluded: split.excluded };
  if (P === 0 || N === 0) return { points: [], ...counts };
  const points: RocPoint[] = [{ threshold: null, fpr: 0, tpr: 0 }];
  const keep = downsampler(countThresholds(split), maxPoints);
  forEachThreshold(split, (v, _tg, _fg, tp, fp) => {
    const fpr = fp / N;
    const tpr = tp / P;
    if (keep((fpr + tpr) / 2)) points.push({ threshold: v, fpr, tpr });
  });
  return { points, ...counts };
}

/**
 * The precision–recall curve as scikit-learn draws it: the start point (recall 0, precision 1),
 * then one point per distinct score in descending order up to the first threshold reaching full
 * recall, downsampled to at most `maxPoints` points by evenly spaced steps of recall (the first
 * point reaching each step is kept; first and last always are).
 *
 * @param labels - shape (n,): non-zero for positive.
 * @param scores - shape (n,): NaN marks an invalid record, left out.
 * @param maxPoints - integer ≥ 2, default 201.
 * @returns empty points when there is no positive.
 * @throws TypeError / RangeError for bad inputs or maxPoints.
 */
export function prCurve(labels: Uint8Array, scores: Scores, maxPoints = 201): Curve<PrPoint> {
  checkMaxPoints(maxPoints);
  const split = splitSorted(labels, scores);
  const P = split.pos.length;
  const counts = { positives: P, negatives: split.neg.length, excluded: split.excluded };
  if (P === 0) return { points: [], ...counts };
  const points: PrPoint[] = [{ threshold: null, precision: 1, recall: 0 }];
  // The curve stops at the first threshold reaching full recall, as scikit-learn's does.
  let needed = 0;
  let reached = false;
  forEachThreshold(split, (_v, _tg, _fg, tp) => {
    if (reached) return;
    needed++;
    reached = tp === P;
  });
  const keep = downsampler(needed, maxPoints);
  let done = false;
  forEachThreshold(split, (v, _tg, _fg, tp, fp) => {
    if (done) return;
    const recall = tp / P;
    if (keep(recall)) points.push({ threshold: v, precision: tp / (tp + fp), recall });
    if (tp === P) done = true;
  });
  return { points, ...counts };
}

/** A labelled anomaly episode on one host, between its first and last record (inclusive). */
export interface EpisodeSpan {
  episodeId: number | string;
  hostId: string;
  /** Anomaly type name, e.g. `spike`. */
  type: string;
  /** ts (ms) of the episode's first record. */
  startTs: number;
  /** ts (ms) of the episode's last record. */
  endTs: number;
}

/** An alert as evaluation needs it: open over [openedAt, closedAt) (to the end when null). */
export interface AlertSpan {
  hostId: string;
  openedAt: number;
  closedAt: number | null;
  suppressed?: boolean;
}

/** Input of {@link eventMetrics}. */
export interface EventMetricsInput {
  episodes: readonly EpisodeSpan[];
  alerts: readonly AlertSpan[];
  /**
   * Counts a host's records with fromTs ≤ ts < toTs; used for time to detect in records. When
   * absent, `samplingIntervalMs` is used instead: round((toTs − fromTs) / samplingIntervalMs).
   */
  recordsBetween?: (hostId: string, fromTs: number, toTs: number) => number;
  /** The telemetry's sampling interval (ms, > 0), for time to detect in records. */
  samplingIntervalMs?: number;
  /** Hosts in the dataset (integer ≥ 1), for false alerts per host per day. */
  hostCount?: number;
  /** Span of the dataset's telemetry in ms (> 0), for false alerts per host per day. */
  durationMs?: number;
  /** Whether alerts suppressed by the storm cap count (default true: they are the job's alerts). */
  includeSuppressed?: boolean;
}

/** How one episode was detected. */
export interface EpisodeDetection {
  episodeId: number | string;
  hostId: string;
  type: string;
  detected: boolean;
  /** ms from the episode's first record to the first moment an alert on its host is open. */
  timeToDetectMs: number | null;
  /** Records from the episode's first record to that moment (0: an alert was already open). */
  timeToDetectRecords: number | null;
  /** Alerts on the host open at some moment of the episode. */
  alerts: number;
}

/** Event figures of one anomaly type (or of all). */
export interface TypeEventMetrics {
  episodes: number;
  detected: number;
  /** detected / episodes; null when there is no episode. */
  recall: number | null;
  /** Mean and median time to detect in records over detected episodes; null when none. */
  meanTimeToDetectRecords: number | null;
  medianTimeToDetectRecords: number | null;
  meanTimeToDetectMs: number | null;
}

/** Output of {@link eventMetrics}. */
export interface EventMetrics {
  overall: TypeEventMetrics;
  /** Per anomaly type present among the episodes. */
  byType: Record<string, TypeEventMetrics>;
  perEpisode: EpisodeDetection[];
  /** Alerts taken into account. */
  alerts: number;
  /** Mean number of alerts per detected episode (1 is ideal); null when none was detected. */
  alertsPerEpisode: number | null;
  /** Alerts overlapping no episode of their host. */
  falseAlerts: number;
  /** falseAlerts / (hostCount × durationMs in days); null without hostCount and durationMs. */
  falseAlertsPerHostDay: number | null;
}

const DAY_MS = 86_400_000;

/**
 * Event-level figures. An alert is open over [openedAt, closedAt): from the record that opened it
 * up to, not including, the record that closed it. An episode is found when an alert on its host
 * is open at some moment of [startTs, endTs], i.e. openedAt ≤ endTs and (closedAt is null or
 * closedAt > startTs). Its time to detect runs from startTs to the first such moment,
 * max(startTs, openedAt) of the earliest such alert: 0 when an alert was already open at the
 * episode's start; in records, the host's records from startTs up to (not including) that moment.
 * False alerts are alerts overlapping no episode of their host by the same rule.
 *
 * @param input - the episodes, the alerts and each host's record times (see {@link EventMetricsInput})
 * @returns recall per episode and type, time to detect, alerts per episode and false alerts
 * @throws TypeError / RangeError for malformed input, naming the field.
 */
export function eventMetrics(input: EventMetricsInput): EventMetrics {
  // Validate
  if (typeof input !== 'object' || input === null) {
    throw new TypeError(`input must be an object; got ${describe(input)}`);
  }
  const { recordsBetween, samplingIntervalMs, hostCount, durationMs } = input;
  const episodes: readonly EpisodeSpan[] = input.episodes;
  const allAlerts: readonly AlertSpan[] = input.alerts;
  const includeSuppressed = input.includeSuppressed ?? true;
  if (!isArray(episodes)) {
    throw new TypeError(`episodes must be an array; got ${describe(episodes)}`);
  }
  if (!isArray(allAlerts)) {
    throw new TypeError(`alerts must be an array; got ${describe(input.alerts)}`);
  }
  episodes.forEach((e, i) => {
    if (typeof e?.hostId !== 'string') {
      throw new TypeError(`episodes[${i}].hostId must be a string; got ${describe(e?.hostId)}`);
    }
    if (typeof e.type !== 'string') {
      throw new TypeError(`episodes[${i}].type must be a string; got ${describe(e.type)}`);
    }
    if (!isFiniteNumber(e.startTs) || !isFiniteNumber(e.endTs) || e.endTs < e.startTs) {
      throw new RangeError(
        `episodes[${i}] must have finite startTs ≤ endTs; got startTs=${describe(e.startTs)} endTs=${describe(e.endTs)}`,
      );
    }
  });
  allAlerts.forEach((a, i) => {
    if (typeof a?.hostId !== 'string') {
      throw new TypeError(`alerts[${i}].hostId must be a string; got ${describe(a?.hostId)}`);
    }
    const closedOk = a.closedAt === null || (isFiniteNumber(a.closedAt) && a.closedAt >= a.openedAt);
    if (!isFiniteNumber(a.openedAt) || !closedOk) {
      throw new RangeError(
        `alerts[${i}] must have a finite openedAt and closedAt null or ≥ openedAt; got openedAt=${describe(a.openedAt)} closedAt=${describe(a.closedAt)}`,
      );
    }
  });
  if (recordsBetween !== undefined && typeof recordsBetween !== 'function') {
    throw new TypeError(`recordsBetween must be a function; got ${describe(recordsBetween)}`);
  }
  if (samplingIntervalMs !== undefined && !(isFiniteNumber(samplingIntervalMs) && samplingIntervalMs > 0)) {
    throw new RangeError(
      `samplingIntervalMs must be a finite number > 0; got ${describe(samplingIntervalMs)}`,
    );
  }
  if (hostCount !== undefined && !(Number.isInteger(hostCount) && hostCount >= 1)) {
    throw new RangeError(`hostCount must be an integer ≥ 1; got ${describe(hostCount)}`);
  }
  if (durationMs !== undefined && !(isFiniteNumber(durationMs) && durationMs > 0)) {
    throw new RangeError(`durationMs must be a finite number > 0; got ${describe(durationMs)}`);
  }
  if (typeof includeSuppressed !== 'boolean') {
    throw new TypeError(`includeSuppressed must be a boolean; got ${describe(includeSuppressed)}`);
  }

  // Group the alerts by host, in opening order.
  const alerts = allAlerts.filter((a) => includeSuppressed || a.suppressed !== true);
  const byHost = new Map<string, { alert: AlertSpan; overlaps: boolean }[]>();
  for (const alert of alerts) {
    let list = byHost.get(alert.hostId);
    if (!list) byHost.set(alert.hostId, (list = []));
    list.push({ alert, overlaps: false });
  }
  for (const list of byHost.values()) list.sort((a, b) => a.alert.openedAt - b.alert.openedAt);

  const toRecords = (hostId: string, from: number, to: number): number | null => {
    // Without a way to count records the figure is unknown for every episode, even those
    // detected at once, so that means and medians are never over a subset.
    if (!recordsBetween && samplingIntervalMs === undefined) return null;
    if (to <= from) return 0;
    if (recordsBetween) return recordsBetween(hostId, from, to);
    return Math.round((to - from) / samplingIntervalMs!);
  };

  // Match each episode with the alerts open during it.
  const perEpisode: EpisodeDetection[] = episodes.map((e) => {
    let first = Infinity;
    let count = 0;
    for (const entry of byHost.get(e.hostId) ?? []) {
      const a = entry.alert;
      if (a.openedAt > e.endTs) break; // sorted by openedAt: no later alert overlaps
      if (a.closedAt !== null && a.closedAt <= e.startTs) continue;
      entry.overlaps = true;
      count++;
      first = Math.min(first, Math.max(a.openedAt, e.startTs));
    }
    const detected = count > 0;
    return {
      episodeId: e.episodeId,
      hostId: e.hostId,
      type: e.type,
      detected,
      timeToDetectMs: detected ? first - e.startTs : null,
      timeToDetectRecords: detected ? toRecords(e.hostId, e.startTs, first) : null,
      alerts: count,
    };
  });

  // Summarise per type and overall.
  const byTypeRows = new Map<string, EpisodeDetection[]>();
  for (const d of perEpisode) {
    let list = byTypeRows.get(d.type);
    if (!list) byTypeRows.set(d.type, (list = []));
    list.push(d);
  }
  const byType: Record<string, TypeEventMetrics> = {};
  for (const [type, rows] of [...byTypeRows].sort((a, b) => a[0].localeCompare(b[0]))) {
    byType[type] = summarise(rows);
  }
  let falseAlerts = 0;
  for (const list of byHost.values()) for (const entry of list) if (!entry.overlaps) falseAlerts++;
  const detected = perEpisode.filter((d) => d.detected);
  const hostDays =
    hostCount !== undefined && durationMs !== undefined ? (hostCount * durationMs) / DAY_MS : null;
  return {
    overall: summarise(perEpisode),
    byType,
    perEpisode,
    alerts: alerts.length,
    alertsPerEpisode:
      detected.length > 0 ? detected.reduce((s, d) => s + d.alerts, 0) / detected.length : null,
    falseAlerts,
    falseAlertsPerHostDay: hostDays !== null ? falseAlerts / hostDays : null,
  };
}

function summarise(rows: readonly EpisodeDetection[]): TypeEventMetrics {
  const found = rows.filter((r) => r.detected);
  const ms = found.map((r) => r.timeToDetectMs!);
  const recs = found.map((r) => r.timeToDetectRecords).filter((r): r is number => r !== null);
  return {
    episodes: rows.length,
    detected: found.length,
    recall: rows.length > 0 ? found.length / rows.length : null,
    meanTimeToDetectRecords: recs.length > 0 ? mean(recs) : null,
    medianTimeToDetectRecords: recs.length > 0 ? median(recs) : null,
    meanTimeToDetectMs: ms.length > 0 ? mean(ms) : null,
  };
}

function mean(v: number[]): number {
  return v.reduce((s, x) => s + x, 0) / v.length;
}

/** Median; of an even count, the mean of the two middle values (as DESIGN.md pins it). */
function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface Split {
  /** Valid scores of positives, ascending. */
  pos: Float64Array;
  /** Valid scores of negatives, ascending. */
  neg: Float64Array;
  excluded: number;
}

/** Validates, drops NaN scores, and sorts the positives' and negatives' scores apart. */
function splitSorted(labels: Uint8Array, scores: Scores): Split {
  checkTyped('labels', labels, [Uint8Array]);
  checkTyped('scores', scores, [Float64Array, Float32Array]);
  checkSameLength('scores', scores, labels);
  // Count first so that each side is allocated once, at its exact size.
  let p = 0;
  let excluded = 0;
  for (let i = 0; i < labels.length; i++) {
    if (Number.isNaN(scores[i])) excluded++;
    else if (labels[i] !== 0) p++;
  }
  const pos = new Float64Array(p);
  const neg = new Float64Array(labels.length - excluded - p);
  let a = 0;
  let b = 0;
  for (let i = 0; i < labels.length; i++) {
    const s = scores[i]!;
    if (Number.isNaN(s)) continue;
    // + 0 turns −0 into +0, so that the two zeros form one tie group.
    if (labels[i] !== 0) pos[a++] = s + 0;
    else neg[b++] = s + 0;
  }
  // TypedArray sort without a comparator is numeric and native.
  pos.sort();
  neg.sort();
  return { pos, neg, excluded };
}

/**
 * Visits the distinct scores from the highest down, with the positives and negatives at that
 * score and the cumulative counts of those scoring ≥ it.
 */
function forEachThreshold(
  { pos, neg }: Split,
  visit: (score: number, tpGroup: number, fpGroup: number, tpCum: number, fpCum: number) => void,
): void {
  let i = pos.length - 1;
  let j = neg.length - 1;
  let tp = 0;
  let fp = 0;
  while (i >= 0 || j >= 0) {
    const v = i < 0 ? neg[j]! : j < 0 ? pos[i]! : Math.max(pos[i]!, neg[j]!);
    let tg = 0;
    let fg = 0;
    while (i >= 0 && pos[i] === v) {
      i--;
      tg++;
    }
    while (j >= 0 && neg[j] === v) {
      j--;
      fg++;
    }
    tp += tg;
    fp += fg;
    visit(v, tg, fg, tp, fp);
  }
}

function countThresholds(split: Split): number {
  let n = 0;
  forEachThreshold(split, () => n++);
  return n;
}

/**
 * Decides which of `total` curve points (after the start point) to keep so that at most
 * `maxPoints` points remain: all of them when they fit, else the first point reaching each of
 * maxPoints − 1 evenly spaced steps of a progress measure that grows from 0 to 1.
 */
function downsampler(total: number, maxPoints: number): (progress: number) => boolean {
  if (total + 1 <= maxPoints) return () => true;
  const steps = maxPoints - 1;
  let next = 1;
  return (progress) => {
    if (progress * steps < next) return false;
    // Skip every step this point reaches, so each kept point consumes at least one step.
    next = Math.floor(progress * steps) + 1;
    return true;
  };
}

function checkMaxPoints(maxPoints: unknown): void {
  if (typeof maxPoints !== 'number' || !Number.isInteger(maxPoints) || maxPoints < 2) {
    throw new RangeError(`maxPoints must be an integer ≥ 2; got ${describe(maxPoints)}`);
  }
}

function checkTyped(
  name: string,
  v: unknown,
  types: readonly (abstract new (...a: never[]) => unknown)[],
): void {
  if (!types.some((t) => v instanceof t)) {
    throw new TypeError(`${name} must be a ${types.map((t) => t.name).join(' or ')}; got ${describe(v)}`);
  }
}

function checkSameLength(name: string, v: ArrayLike<number>, labels: Uint8Array): void {
  if (v.length !== labels.length) {
    throw new RangeError(`${name} must have the length of labels (${labels.length}); got ${v.length}`);
  }
}

/** Array.isArray without its narrowing to any[] (which would erase the element type). */
function isArray(v: unknown): boolean {
  return Array.isArray(v);
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
