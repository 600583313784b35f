/**
 * Detector policies: the rule that turns the pinned per-record outputs (the fused score) into a
 * per-record flag and into alerts. DESIGN.md pins the per-record outputs; the policy above them
 * may be improved to reach the detection-quality targets, provided the default stays available
 * and both are reported side by side (docs/DETECTION.md).
 *
 * - `default`: the pinned detector. A record is anomalous when fused ≥ 1; alerts follow
 *   DESIGN.md "Alerts" with its defaults (raise after 3, clear after 5 below 0.8, cooldown 300 s).
 * - `smoothed`: two per-host rules over time, fused by max.
 *   1. k-of-n: the k-th largest fused score among the host's last n valid records (a gap longer
 *      than the alert manager's gap threshold empties the window). It is ≥ t exactly when at
 *      least k of the last n records reached t, so one noisy record can neither raise nor hold an
 *      alert, while an anomaly whose records cross the limit only intermittently (a noise burst, a
 *      correlation break) still raises — which lets the threshold sit below the pinned 1.
 *   2. flatline: a continuous metric repeating its previous value exactly. Normal telemetry never
 *      does (its independent noise is continuous) except at a physical limit (0, or 100 %), so
 *      `repeats` identical repeats in a row score `threshold` (and more repeats score more). A
 *      stuck sensor keeps its residual small for as long as the host's factors stay near where it
 *      froze, so no per-record score sees it early; its frozen value does.
 *   The policy score then goes through the same AlertManager, with its own thresholds.
 *
 * Everything here is pure and streaming: state per host, records in (ts, host_id) order, so a
 * replay gives the same output as a live pass. {@link Detector} puts a policy's filter and its
 * alert manager together: the dataset job's replay and the live scorer both alert through it.
 */
import { POLICY_NAMES, type PolicyName } from '../contract/vocabulary.js';
import {
  AlertManager,
  type AlertEvent,
  type AlertManagerOptions,
  type AlertManagerState,
  type AlertRecord,
  type ResolvedAlertOptions,
} from './alerts.js';
import { describe } from './check.js';

export { POLICY_NAMES, type PolicyName };

/** A detector policy: the per-host window rule and the alert manager's options. */
export interface DetectorPolicy {
  name: PolicyName;
  /** The k-of-n window (k ≤ n), or null for the raw fused score. */
  window: { k: number; n: number } | null;
  /** Exact repeats of a metric's value (in a row) that score `threshold`, or null for no such rule. */
  flatline: { repeats: number } | null;
  /** Policy score at or above which a record is flagged (and counts towards raising). */
  threshold: number;
  /** AlertManager options (raiseThreshold is set from `threshold`). */
  alerts: Omit<AlertManagerOptions, 'onEvent' | 'raiseThreshold' | 'intervalS'>;
}

/** The pinned detector: fused ≥ 1 flags a record; DESIGN.md's alert defaults. */
export const DEFAULT_POLICY: Readonly<DetectorPolicy> = Object.freeze({
  name: 'default',
  window: null,
  flatline: null,
  threshold: 1,
  alerts: {},
});

/**
 * The improved detector (docs/DETECTION.md explains the choice): a record is flagged when at
 * least 3 of the host's last 5 records have fused ≥ 0.7, or when a metric has repeated its value
 * exactly twice in a row; an alert opens on the first flagged record and closes after 5 records
 * whose policy score is below 0.5.
 */
export const SMOOTHED_POLICY: Readonly<DetectorPolicy> = Object.freeze({
  name: 'smoothed',
  window: Object.freeze({ k: 3, n: 5 }),
  flatline: Object.freeze({ repeats: 2 }),
  threshold: 0.7,
  alerts: Object.freeze({ raiseAfter: 1, clearAfter: 5, clearBelow: 0.5 }),
});

/**
 * The policy of a name.
 *
 * @throws RangeError for an unknown name
 */
export function policyByName(name: string): DetectorPolicy {
  if (name === 'default') return DEFAULT_POLICY;
  if (name === 'smoothed') return SMOOTHED_POLICY;
  throw new RangeError(`policy must be one of ${POLICY_NAMES.join(', ')}; got ${JSON.stringify(name)}`);
}

/**
 * The AlertManager options a policy alerts with, for telemetry sampled every `intervalS` seconds.
 *
 * @param policy - the policy
 * @param intervalS - the dataset's sampling interval in seconds (> 0), or undefined if unknown
 */
export function alertOptionsFor(policy: DetectorPolicy, intervalS?: number): AlertManagerOptions {
  const opts: AlertManagerOptions = { ...policy.alerts, raiseThreshold: policy.threshold };
  if (intervalS !== undefined) opts.intervalS = intervalS;
  // The clear threshold must not exceed the raise threshold (AlertManager checks it).
  if (opts.clearBelow !== undefined && opts.clearBelow > policy.threshold) opts.clearBelow = policy.threshold;
  if (opts.clearBelow === undefined && policy.threshold < 0.8) opts.clearBelow = policy.threshold;
  return opts;
}

interface HostState {
  /** Ring buffer of the last n valid fused scores. */
  values: Float64Array;
  /** How many of them are filled (≤ n). */
  count: number;
  /** Next write position. */
  head: number;
  lastTs: number;
  /** Per metric: the previous valid record's value, and how many exact repeats end there. */
  prev: Float64Array;
  repeats: Int32Array;
}

/** Columns {@link PolicyFilter.apply} reads, `length` rows each, in (ts, host_id) order. */
export interface PolicyInput {
  hostIds: readonly string[];
  /** Telemetry time in ms. */
  ts: Float64Array;
  /** Fused score (NaN: invalid record). */
  fused: Float64Array;
  /** Top metric of the record (−1: none). */
  topMetric: Int32Array;
  /** The record's metric values, row-major (length × d); needed only by a flatline rule. */
  metrics?: Float64Array | undefined;
  /** Metrics per record (d), when `metrics` is given. */
  d?: number | undefined;
}

/** Where {@link PolicyFilter.apply} writes, `length` rows each (may alias the input columns). */
export interface PolicyOutput {
  score: Float64Array;
  topMetric: Int32Array;
}

/**
 * Streaming per-host policy filter: feed it records in (ts, host_id) order, it writes each
 * record's policy score and top metric. Invalid records (a non-finite fused score) get NaN and
 * change nothing.
 *
 * @example
 * const f = new PolicyFilter(SMOOTHED_POLICY, { gapMs: 300_000 });
 * f.apply(batch, batch.length, { score, topMetric });
 */
export class PolicyFilter {
  readonly policy: Readonly<DetectorPolicy>;
  readonly #k: number;
  readonly #n: number;
  readonly #repeats: number;
  readonly #gapMs: number;
  readonly #hosts = new Map<string, HostState>();
  readonly #scratch: Float64Array;
  // Top metric chosen by the last #step: -2 keeps the record's own.
  #lastTop = -2;

  /**
   * @param policy - the detector policy
   * @param options.gapMs - a host's window empties after a gap longer than this, in ms (default
   *   300 000, the alert manager's default gap)
   * @throws RangeError when the window is not integers 1 ≤ k ≤ n ≤ 1000, flatline repeats is not
   *   an integer in [1, 1000], the threshold is not finite and > 0, or gapMs is not > 0
   */
  constructor(policy: DetectorPolicy, options: { gapMs?: number } = {}) {
    const w = policy.window ?? { k: 1, n: 1 };
    if (!Number.isInteger(w.n) || w.n < 1 || w.n > 1000) {
      throw new RangeError(`policy.window.n must be an integer in [1, 1000]; got ${w.n}`);
    }
    if (!Number.isInteger(w.k) || w.k < 1 || w.k > w.n) {
      throw new RangeError(`policy.window.k must be an integer in [1, ${w.n}]; got ${w.k}`);
    }
    const repeats = policy.flatline?.repeats ?? 0;
    if (policy.flatline !== null && (!Number.isInteger(repeats) || repeats < 1 || repeats > 1000)) {
      throw new RangeError(`policy.flatline.repeats must be an integer in [1, 1000]; got ${repeats}`);
    }
    if (!Number.isFinite(policy.threshold) || policy.threshold <= 0) {
      throw new RangeError(`policy.threshold must be a finite number > 0; got ${policy.threshold}`);
    }
    const gapMs = options.gapMs ?? 300_000;
    if (!(gapMs > 0) || !Number.isFinite(gapMs)) {
      throw new RangeError(`gapMs must be a finite number > 0; got ${gapMs}`);
    }
    this.policy = policy;
    this.#k = w.k;
    this.#n = w.n;
    this.#repeats = repeats;
    this.#gapMs = gapMs;
    this.#scratch = new Float64Array(w.n);
  }

  /** True when the policy passes fused scores through unchanged (no window, no flatline rule). */
  get identity(): boolean {
    return this.#n === 1 && this.#repeats === 0;
  }

  /** True when the policy needs the records' metric values. */
  get needsMetrics(): boolean {
    return this.#repeats > 0;
  }

  /**
   * Computes the policy score and top metric of `length` records.
   *
   * @param input - the records' columns, `length` rows each; `metrics` (length × d) is required
   *   when {@link needsMetrics}
   * @param length - records to take
   * @param out - receives the policy scores and top metrics, `length` rows each
   * @throws RangeError when a column is shorter than `length` or metrics are missing
   */
  apply(input: PolicyInput, length: number, out: PolicyOutput): void {
    const { hostIds, ts, fused, topMetric } = input;
    for (const [name, col] of [
      ['hostIds', hostIds],
      ['ts', ts],
      ['fused', fused],
      ['topMetric', topMetric],
      ['out.score', out.score],
      ['out.topMetric', out.topMetric],
    ] as const) {
      if (col.length < length)
        throw new RangeError(`${name} must have at least ${length} entries; got ${col.length}`);
    }
    const d = input.d ?? 0;
    if (this.#repeats > 0) {
      if (!input.metrics || !Number.isInteger(d) || d < 1 || input.metrics.length < length * d) {
        throw new RangeError(
          `metrics must be a Float64Array of at least length × d (${length} × ${d}) values for a flatline rule`,
        );
      }
    }
    if (this.identity) {
      if (out.score !== fused) out.score.set(fused.subarray(0, length));
      if (out.topMetric !== topMetric) out.topMetric.set(topMetric.subarray(0, length));
      return;
    }
    for (let i = 0; i < length; i++) {
      const top = topMetric[i]!;
      const score = this.#step(hostIds[i]!, ts[i]!, fused[i]!, input.metrics, i * d, d);
      out.score[i] = score;
      out.topMetric[i] = this.#lastTop === -2 ? top : this.#lastTop;
    }
  }

  /** One record: returns its policy score, sets #lastTop. */
  #step(
    hostId: string,
    ts: number,
    fused: number,
    metrics: Float64Array | undefined,
    offset: number,
    d: number,
  ): number {
    this.#lastTop = -2;
    if (!Number.isFinite(fused)) return NaN;
    const n = this.#n;
    let h = this.#hosts.get(hostId);
    if (h === undefined) {
      h = {
        values: new Float64Array(n),
        count: 0,
        head: 0,
        lastTs: -Infinity,
        prev: new Float64Array(d).fill(NaN),
        repeats: new Int32Array(d),
      };
      this.#hosts.set(hostId, h);
    }
    // A long gap: what came before says nothing about now.
    if (ts - h.lastTs > this.#gapMs) {
      h.count = 0;
      h.head = 0;
      h.prev.fill(NaN);
      h.repeats.fill(0);
    }
    h.lastTs = ts;

    // Rule 1: k-of-n over the fused score. Until k records are in, the missing ones count as 0
    // (fused scores are ≥ 0): fewer than k records are not enough evidence to flag.
    let score = fused;
    if (n > 1) {
      h.values[h.head] = fused;
      h.head = (h.head + 1) % n;
      if (h.count < n) h.count += 1;
      score = h.count < this.#k ? 0 : kthLargest(h.values, h.count, this.#k, this.#scratch);
    }

    // Rule 2: flatline — exact repeats of a metric's previous value, away from its limits.
    if (this.#repeats > 0 && metrics !== undefined) {
      let best = 0;
      let bestMetric = -1;
      for (let j = 0; j < d; j++) {
        const v = metrics[offset + j]!;
        const r = v === h.prev[j] && v !== 0 && v !== 100 ? h.repeats[j]! + 1 : 0;
        h.repeats[j] = r;
        h.prev[j] = v;
        if (r > best) {
          best = r;
          bestMetric = j;
        }
      }
      const flat = (best / this.#repeats) * this.policy.threshold;
      if (best >= this.#repeats && flat > score) {
        score = flat;
        this.#lastTop = bestMetric;
      }
    }
    return score;
  }
}

/** The k-th largest of the first `count` values (k ≥ 1), by insertion sort into `scratch`. */
function kthLargest(values: Float64Array, count: number, k: number, scratch: Float64Array): number {
  // n is small (≤ 1000, in practice ≤ 10): a partial insertion sort keeping the k largest.
  let filled = 0;
  for (let i = 0; i < count; i++) {
    const v = values[i]!;
    if (filled < k) {
      let j = filled++;
      while (j > 0 && scratch[j - 1]! < v) {
        scratch[j] = scratch[j - 1]!;
        j--;
      }
      scratch[j] = v;
    } else if (v > scratch[k - 1]!) {
      let j = k - 1;
      while (j > 0 && scratch[j - 1]! < v) {
        scratch[j] = scratch[j - 1]!;
        j--;
      }
      scratch[j] = v;
    }
  }
  return scratch[k - 1]!;
}

/**
 * What a detector resumes from ({@link Detector.resume}): what survives a restart of a live
 * scorer, as its sink stored it.
 */
export interface DetectorResumeState {
  /** Open alerts, with the model's top metric index (−1 when unknown). */
  openAlerts: {
    hostId: string;
    openedAt: number;
    peakScore: number;
    topMetric: number;
    records: number;
    suppressed: boolean;
  }[];
  /** Per host, when its last alert closed (ms); hosts whose cooldown may still run. */
  lastClosed: { hostId: string; closedAt: number }[];
}

/** Options of {@link Detector}. */
export interface DetectorOptions {
  /** The policy, or its name; default {@link DEFAULT_POLICY}. */
  policy?: DetectorPolicy | PolicyName;
  /**
   * AlertManager options over the policy's ({@link alertOptionsFor}): the sampling interval
   * (`intervalS`), the storm cap, … (`onEvent` is the detector's own option).
   */
  alerts?: Omit<AlertManagerOptions, 'onEvent'>;
  /** Receives every alert event, in order, as it happens; else events queue for drainEvents(). */
  onEvent?: (event: AlertEvent) => void;
}

/**
 * The detector: a policy's per-host filter and an AlertManager with the policy's options, fed
 * scored records in (ts, host_id) order — their fused scores and top metrics, and, when the
 * policy has a flatline rule, their metric values in the model's column order. Top metric indices
 * (of records and of alerts) index the model's metrics.
 *
 * @example
 * const detector = new Detector({ policy: 'smoothed', alerts: { intervalS: 60 }, onEvent });
 * detector.process({ hostIds, ts, fused, topMetric, metrics, d }, length);
 */
export class Detector {
  /** The policy it flags and alerts by. */
  readonly policy: Readonly<DetectorPolicy>;
  /** The alert manager's resolved options (gap threshold, cooldown, …). */
  readonly options: Readonly<ResolvedAlertOptions>;
  readonly #filter: PolicyFilter;
  readonly #managerOptions: AlertManagerOptions;
  #manager: AlertManager;
  #taken = false;
  // Policy scores and top metrics of one batch, grown as needed (unused by an identity filter).
  #score = new Float64Array(0);
  #top = new Int32Array(0);

  /**
   * @param options - see {@link DetectorOptions}
   * @throws TypeError/RangeError for an unknown policy, a malformed one, or bad alert options
   *   (naming them)
   */
  constructor(options: DetectorOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`options must be an object; got ${describe(options)}`);
    }
    const { policy: given = DEFAULT_POLICY, alerts = {}, onEvent } = options;
    if (typeof alerts !== 'object' || alerts === null) {
      throw new TypeError(`options.alerts must be an object; got ${describe(alerts)}`);
    }
    if ('onEvent' in alerts)
      throw new TypeError('options.alerts.onEvent is not an option; use options.onEvent');
    const policy = typeof given === 'string' ? policyByName(given) : given;
    this.#managerOptions = { ...alertOptionsFor(policy), ...alerts, ...(onEvent ? { onEvent } : {}) };
    this.#manager = new AlertManager(this.#managerOptions);
    this.options = this.#manager.options;
    this.#filter = new PolicyFilter(policy, { gapMs: this.options.gapMs });
    this.policy = policy;
  }

  /** True when {@link process} needs the records' metric values (a flatline rule). */
  get needsMetrics(): boolean {
    return this.#filter.needsMetrics;
  }

  /**
   * Resumes open alerts and cooldowns (a live scorer's restart): each open alert is resumed, not
   * closed or duplicated, and closes by the usual rule; a host whose last alert closed less than
   * the cooldown ago stays in cooldown. Nothing else carries over: raise streaks and the policy's
   * windows start empty, as after a gap in the telemetry. Resumed alerts take ids 1..n in the
   * order given; alerts opened afterwards continue from n + 1.
   *
   * @param state - the open alerts and last closes to resume (see {@link DetectorResumeState})
   * @throws Error after a record was taken; TypeError/RangeError for a malformed state (naming the
   *   field)
   */
  resume(state: DetectorResumeState): void {
    if (this.#taken) throw new Error('resume() must come before the first record');
    if (typeof state !== 'object' || state === null) {
      throw new TypeError(`state must be an object; got ${describe(state)}`);
    }
    const { openAlerts, lastClosed } = state;
    if (!Array.isArray(openAlerts))
      throw new TypeError(`state.openAlerts must be an array; got ${describe(openAlerts)}`);
    if (!Array.isArray(lastClosed))
      throw new TypeError(`state.lastClosed must be an array; got ${describe(lastClosed)}`);
    const hosts = new Map<string, AlertManagerState['hosts'][number]>();
    const hostState = (hostId: string) => {
      let h = hosts.get(hostId);
      if (h === undefined) {
        h = {
          hostId,
          lastTs: null,
          raiseStreak: 0,
          streakPeak: 0,
          streakTop: -1,
          clearStreak: 0,
          cooldownUntil: null,
          alert: null,
        };
        hosts.set(hostId, h);
      }
      return h;
    };
    openAlerts.forEach((a, i) => {
      const alert: AlertRecord = {
        id: i + 1,
        hostId: a.hostId,
        openedAt: a.openedAt,
        closedAt: null,
        peakScore: a.peakScore,
        topMetric: a.topMetric,
        records: Math.max(1, a.records),
        suppressed: a.suppressed,
      };
      hostState(a.hostId).alert = alert;
    });
    const cooldownMs = this.options.cooldownMs;
    for (const c of lastClosed) {
      const h = hostState(c.hostId);
      const until = c.closedAt + cooldownMs;
      if (h.alert === null && (h.cooldownUntil === null || until > h.cooldownUntil)) h.cooldownUntil = until;
    }
    this.#manager = AlertManager.restore(
      {
        version: 1,
        nextId: openAlerts.length + 1,
        last: null,
        capMinute: null,
        capCount: 0,
        suppressed: [],
        suppressedPending: [],
        hosts: [...hosts.values()],
      },
      this.#managerOptions,
    );
  }

  /**
   * Whether a record at (ts, hostId) would be taken now (strictly after the last one taken), so
   * that a live caller can set late records aside.
   */
  accepts(ts: number, hostId: string): boolean {
    return this.#manager.accepts(ts, hostId);
  }

  /**
   * Takes `length` scored records in (ts, host_id) order: the policy scores them, the alert
   * manager alerts on the policy scores. The whole batch is checked before any record is taken,
   * so a bad batch changes nothing.
   *
   * @param input - the records' columns, `length` rows each; `metrics` (length × d, the model's
   *   column order) is required when {@link needsMetrics}
   * @param length - records to take
   * @throws TypeError/RangeError for malformed columns, missing metrics or records out of order
   *   (naming the row)
   */
  process(input: PolicyInput, length: number): void {
    if (this.#filter.identity) {
      this.#manager.processBatch(input, length);
    } else {
      this.#checkOrder(input, length);
      if (this.#score.length < length) {
        this.#score = new Float64Array(length);
        this.#top = new Int32Array(length);
      }
      const out = { score: this.#score, topMetric: this.#top };
      this.#filter.apply(input, length, out);
      this.#manager.processBatch(
        { ts: input.ts, hostIds: input.hostIds, fused: out.score, topMetric: out.topMetric },
        length,
      );
    }
    if (length > 0) this.#taken = true;
  }

  /** Returns the queued events, oldest first, and empties the queue (empty when onEvent is set). */
  drainEvents(): AlertEvent[] {
    return this.#manager.drainEvents();
  }

  /** Suppressed alerts per calendar minute (minute start in ms → count), totals since the start. */
  suppressedCounts(): Map<number, number> {
    return this.#manager.suppressedCounts();
  }

  /** Suppressed alerts per minute added since the previous call (minute start in ms → count). */
  drainSuppressedCounts(): Map<number, number> {
    return this.#manager.drainSuppressedCounts();
  }

  /** Copies of the currently open alerts (suppressed ones included), by id. */
  openAlerts(): AlertRecord[] {
    return this.#manager.openAlerts();
  }

  /**
   * The order and record checks the alert manager makes, made before the filter's state moves: a
   * batch the manager would refuse must not leave the filter part-way through it.
   */
  #checkOrder(input: PolicyInput, length: number): void {
    if (!Number.isInteger(length) || length < 0) {
      throw new RangeError(`length must be an integer ≥ 0; got ${describe(length)}`);
    }
    const { ts, hostIds, topMetric } = input;
    if (!(ts instanceof Float64Array)) throw new TypeError(`ts must be a Float64Array; got ${describe(ts)}`);
    if (!Array.isArray(hostIds))
      throw new TypeError(`hostIds must be a string array; got ${describe(hostIds)}`);
    if (!(topMetric instanceof Int32Array)) {
      throw new TypeError(`topMetric must be an Int32Array; got ${describe(topMetric)}`);
    }
    if (ts.length < length || hostIds.length < length || topMetric.length < length) {
      throw new RangeError(`ts, hostIds and topMetric must have at least ${length} entries`);
    }
    for (let i = 0; i < length; i++) {
      const t = ts[i]!;
      const h: unknown = hostIds[i];
      if (!Number.isFinite(t)) throw new RangeError(`ts[${i}] must be a finite number of ms; got ${t}`);
      if (typeof h !== 'string' || h.length === 0) {
        throw new TypeError(`hostIds[${i}] must be a non-empty string; got ${describe(h)}`);
      }
      if (topMetric[i]! < -1) throw new RangeError(`topMetric[${i}] must be ≥ -1; got ${topMetric[i]}`);
      const after =
        i === 0 ? this.#manager.accepts(t, h) : t > ts[i - 1]! || (t === ts[i - 1]! && h > hostIds[i - 1]!);
      if (!after) {
        throw new RangeError(
          `records must come in strictly increasing (ts, host_id) order at row ${i}; got ts=${t} ` +
            `host_id=${JSON.stringify(h)}`,
        );
      }
    }
  }
}
