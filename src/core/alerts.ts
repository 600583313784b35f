/**
 * The alert manager (DESIGN.md "Alerts"): a per-host state machine over scored records, taken in
 * (ts, host_id) order of telemetry time, so that replaying the same records gives the same alerts.
 *
 * Per host:
 * - closed: a valid record with fused ≥ `raiseThreshold` adds to the raise streak, any other valid
 *   record resets it. When the streak reaches `raiseAfter` an alert opens — unless the host is in
 *   cooldown; then the streak keeps counting and the alert opens at the first record at or after
 *   the cooldown's end while the streak still holds (that record is itself ≥ `raiseThreshold`).
 * - open: a valid record with fused < `clearBelow` adds to the clear streak, any other valid record
 *   resets it; at `clearAfter` the alert closes at that record and the host's cooldown starts: the
 *   host is in cooldown for records with ts < closedAt + `cooldownS`.
 * - invalid records (valid = false or a non-finite fused score) change nothing, not even the gap
 *   clock. A gap between two valid records of a host longer than max(`maxGapS`, 5 × `intervalS`)
 *   resets both streaks (an open alert stays open; its clear streak starts again).
 *
 * Storm cap: at most `maxAlertsPerMinute` alerts open per calendar minute of telemetry time
 * (aligned to the Unix epoch) per manager. An alert over the cap opens as `suppressed`: it gets an
 * id and events like any other (so it is stored), is counted for its minute, and goes through the
 * same open/close/cooldown cycle; suppressed alerts do not count towards the cap.
 */
import { describe } from './check.js';

/** One alert as the manager sees it. Times are milliseconds since the Unix epoch. */
export interface AlertRecord {
  /** Manager-local sequence number, 1, 2, 3 … in opening order (continues across restore). */
  id: number;
  hostId: string;
  /** ts of the record that opened the alert (the record completing the raise streak). */
  openedAt: number;
  /** ts of the record that closed it (the record completing the clear streak), or null while open. */
  closedAt: number | null;
  /**
   * Largest fused score of the alert: over the opening raise streak's records (including those
   * counted during a cooldown) and every valid record while open. Ties keep the earliest record.
   */
  peakScore: number;
  /** Top metric index (into the model's metrics) of the peak record, or −1 if it had none. */
  topMetric: number;
  /**
   * Valid records of the host from the opening record through the closing record, both included
   * (so at least 1 while open, at least `clearAfter` + 1 once closed). The raise streak's records
   * before the opening record are not counted; invalid records are never counted.
   */
  records: number;
  /** True when the alert was opened over the storm cap: stored and counted, but not notified. */
  suppressed: boolean;
}

/**
 * A change of an alert. `opened` and `closed` happen once per alert; `updated` is emitted only
 * when the open alert's peak score rises (a new peak record), not for every record counted, so a
 * long alert emits few events. The `alert` is a copy taken at the event; later changes do not
 * affect it.
 */
export interface AlertEvent {
  kind: 'opened' | 'updated' | 'closed';
  alert: AlertRecord;
}

/** One scored record fed to {@link AlertManager.process}. */
export interface AlertInput {
  /** Telemetry time, milliseconds since the Unix epoch (finite). */
  ts: number;
  /** Non-empty host id. */
  hostId: string;
  /** Fused score; NaN (or any non-finite value) marks an invalid record. */
  fused: number;
  /** Top metric index, an integer ≥ −1 (−1: none). */
  topMetric: number;
  /** False marks an invalid record (default true). */
  valid?: boolean;
}

/** Columns of scored records for {@link AlertManager.processBatch}; row i of each is one record. */
export interface AlertBatch {
  /** Telemetry time per record, milliseconds since the Unix epoch. */
  ts: Float64Array;
  /** Host id per record, as an array or a function of the row index. */
  hostIds: readonly string[] | ((i: number) => string);
  /** Fused score per record (NaN for invalid records). */
  fused: Float64Array;
  /** Top metric index per record (−1 for none). */
  topMetric: Int32Array;
  /** Optional validity per record: 0 is invalid, anything else valid. */
  valid?: Uint8Array;
}

/** Options of {@link AlertManager}; every one is optional. */
export interface AlertManagerOptions {
  /** Consecutive records with fused ≥ raiseThreshold that open an alert; integer ≥ 1, default 3. */
  raiseAfter?: number;
  /** Consecutive records with fused < clearBelow that close an alert; integer ≥ 1, default 5. */
  clearAfter?: number;
  /** Seconds after a close during which the host cannot open an alert; ≥ 0, default 300. */
  cooldownS?: number;
  /** A gap (seconds) between a host's valid records longer than this resets its streaks; > 0, default 300. */
  maxGapS?: number;
  /**
   * The telemetry's sampling interval in seconds (> 0); when given, the gap threshold is
   * max(maxGapS, 5 × intervalS), else maxGapS.
   */
  intervalS?: number;
  /** Fused score at or above which a record is anomalous; finite, default 1. */
  raiseThreshold?: number;
  /** Fused score below which a record counts towards closing; finite, ≤ raiseThreshold, default 0.8. */
  clearBelow?: number;
  /** Alerts allowed to open (unsuppressed) per calendar minute; integer ≥ 0, default 20. */
  maxAlertsPerMinute?: number;
  /**
   * Receives every event synchronously, in order, as it happens; when set, events are not queued
   * for {@link AlertManager.drainEvents}. An exception it throws propagates to the caller of
   * process/processBatch after the manager's state already reflects the event.
   */
  onEvent?: (event: AlertEvent) => void;
}

/** The options with defaults applied, and the derived thresholds in milliseconds. */
export interface ResolvedAlertOptions {
  raiseAfter: number;
  clearAfter: number;
  cooldownS: number;
  maxGapS: number;
  intervalS: number | null;
  raiseThreshold: number;
  clearBelow: number;
  maxAlertsPerMinute: number;
  /** Gap threshold: max(maxGapS, 5 × intervalS) in milliseconds. */
  gapMs: number;
  /** cooldownS in milliseconds. */
  cooldownMs: number;
}

/** A host's state in a snapshot; hosts with nothing to remember are left out. */
export interface AlertHostState {
  hostId: string;
  /** ts of the host's last valid record, or null. */
  lastTs: number | null;
  raiseStreak: number;
  /** Peak fused score and its top metric over the current raise streak (meaningful when > 0). */
  streakPeak: number;
  streakTop: number;
  clearStreak: number;
  /** End of the host's cooldown (ms), or null when it never closed an alert. */
  cooldownUntil: number | null;
  /** The host's open alert, or null. */
  alert: AlertRecord | null;
}

/**
 * Everything an {@link AlertManager} needs to resume, as plain JSON. Undelivered events are not
 * part of it: drain (or deliver) events before taking a snapshot.
 */
export interface AlertManagerState {
  version: 1;
  /** The next alert id. */
  nextId: number;
  /** The last record taken (order cursor), or null before the first. */
  last: { ts: number; hostId: string } | null;
  /** The minute (ms) whose unsuppressed openings capCount counts, or null. */
  capMinute: number | null;
  capCount: number;
  /** Suppressed alerts per minute: totals since the first record, as [minuteMs, count] pairs. */
  suppressed: [number, number][];
  /** The part of `suppressed` not yet returned by drainSuppressedCounts(). */
  suppressedPending: [number, number][];
  hosts: AlertHostState[];
}

interface HostState {
  lastTs: number;
  raiseStreak: number;
  streakPeak: number;
  streakTop: number;
  clearStreak: number;
  cooldownUntil: number;
  alert: AlertRecord | null;
}

const OPTION_NAMES = new Set([
  'raiseAfter',
  'clearAfter',
  'cooldownS',
  'maxGapS',
  'intervalS',
  'raiseThreshold',
  'clearBelow',
  'maxAlertsPerMinute',
  'onEvent',
]);

const MINUTE_MS = 60_000;

/**
 * Turns scored records into alerts per DESIGN.md "Alerts" (see the module comment for the rules).
 *
 * @example
 * const m = new AlertManager({ intervalS: 60 });
 * m.process({ ts: Date.parse('2024-01-01T00:00:00Z'), hostId: 'h1', fused: 1.4, topMetric: 2 });
 * const events = m.drainEvents();
 */
export class AlertManager {
  /** The resolved options. */
  readonly options: Readonly<ResolvedAlertOptions>;
  readonly #onEvent: ((event: AlertEvent) => void) | null;
  readonly #hosts = new Map<string, HostState>();
  #events: AlertEvent[] = [];
  #nextId = 1;
  #lastTs = -Infinity;
  #lastHost = '';
  #capMinute = NaN;
  #capCount = 0;
  readonly #suppressed = new Map<number, number>();
  #suppressedPending = new Map<number, number>();

  /**
   * @param options - see {@link AlertManagerOptions}; validated up front.
   * @throws TypeError for an option of the wrong type or an unknown option; RangeError for one out
   *   of range. Messages name the option, what was expected and what arrived.
   */
  constructor(options: AlertManagerOptions = {}) {
    this.options = Object.freeze(resolveOptions(options));
    this.#onEvent = options.onEvent ?? null;
  }

  /**
   * Takes one scored record.
   *
   * @param rec - the record's time, host, fused score and top metric (see {@link AlertInput})
   * @throws TypeError/RangeError for a malformed record; RangeError when (ts, hostId) does not come
   *   strictly after the previous record's (ts, host_id) — then nothing changes.
   */
  process(rec: AlertInput): void {
    // Validate
    if (typeof rec !== 'object' || rec === null) {
      throw new TypeError(`rec must be an object; got ${describe(rec)}`);
    }
    const { ts, hostId, fused, topMetric, valid } = rec;
    checkRecord(ts, hostId, fused, topMetric);
    if (valid !== undefined && typeof valid !== 'boolean') {
      throw new TypeError(`rec.valid must be a boolean or undefined; got ${describe(valid)}`);
    }
    this.#checkOrder(ts, hostId, this.#lastTs, this.#lastHost, '');
    // Interpret
    this.#lastTs = ts;
    this.#lastHost = hostId;
    if (valid !== false) this.#step(ts, hostId, fused, topMetric);
  }

  /**
   * Takes `length` records from columns (the fast path of job replays and live batches). The whole
   * batch is checked (types, lengths, order) before any record is taken, so a bad batch changes
   * nothing.
   *
   * @param cols - columns of at least `length` rows each; see {@link AlertBatch}.
   * @param length - number of records, an integer ≥ 0 (default: `cols.ts.length`).
   * @throws TypeError/RangeError for malformed columns or records, RangeError for out-of-order
   *   records (naming the row).
   */
  processBatch(cols: AlertBatch, length: number = cols?.ts?.length): void {
    // Validate the columns
    if (typeof cols !== 'object' || cols === null) {
      throw new TypeError(`cols must be an object; got ${describe(cols)}`);
    }
    if (!Number.isInteger(length) || length < 0) {
      throw new RangeError(`length must be an integer ≥ 0; got ${describe(length)}`);
    }
    const { ts, hostIds, fused, topMetric, valid } = cols;
    checkColumn('cols.ts', ts, Float64Array, length);
    checkColumn('cols.fused', fused, Float64Array, length);
    checkColumn('cols.topMetric', topMetric, Int32Array, length);
    if (valid !== undefined) checkColumn('cols.valid', valid, Uint8Array, length);
    const hostAt: (i: number) => string =
      typeof hostIds === 'function'
        ? hostIds
        : Array.isArray(hostIds)
          ? (i) => (hostIds as readonly string[])[i]!
          : (() => {
              throw new TypeError(
                `cols.hostIds must be a string array or a function; got ${describe(hostIds)}`,
              );
            })();
    if (Array.isArray(hostIds) && hostIds.length < length) {
      throw new RangeError(`cols.hostIds must have at least ${length} entries; got ${hostIds.length}`);
    }

    // Validate every record and the order, before changing anything
    let prevTs = this.#lastTs;
    let prevHost = this.#lastHost;
    for (let i = 0; i < length; i++) {
      const t = ts[i]!;
      const h = hostAt(i);
      if (!Number.isFinite(t)) {
        throw new RangeError(`cols.ts[${i}] must be a finite number of ms; got ${t}`);
      }
      if (typeof h !== 'string' || h.length === 0) {
        throw new TypeError(`cols.hostIds[${i}] must be a non-empty string; got ${describe(h)}`);
      }
      if (topMetric[i]! < -1) {
        throw new RangeError(`cols.topMetric[${i}] must be ≥ -1; got ${topMetric[i]}`);
      }
      this.#checkOrder(t, h, prevTs, prevHost, ` at row ${i}`);
      prevTs = t;
      prevHost = h;
    }

    // Interpret; the order cursor follows each record taken, so an exception thrown by onEvent
    // leaves the manager resumable from the next row.
    for (let i = 0; i < length; i++) {
      const h = hostAt(i);
      this.#lastTs = ts[i]!;
      this.#lastHost = h;
      if (valid !== undefined && valid[i] === 0) continue;
      this.#step(ts[i]!, h, fused[i]!, topMetric[i]!);
    }
  }

  /**
   * Whether a record at (ts, hostId) would be taken now, i.e. comes strictly after the last
   * record in (ts, host_id) order. Lets a live caller set late records aside without an exception.
   *
   * @param ts - the record's time, ms since the epoch
   * @param hostId - the record's host
   */
  accepts(ts: number, hostId: string): boolean {
    return ts > this.#lastTs || (ts === this.#lastTs && hostId > this.#lastHost);
  }

  /** Returns the queued events, oldest first, and empties the queue (empty when onEvent is set). */
  drainEvents(): AlertEvent[] {
    const out = this.#events;
    this.#events = [];
    return out;
  }

  /** Suppressed alerts per calendar minute (minute start in ms → count), totals since the start. */
  suppressedCounts(): Map<number, number> {
    return new Map(this.#suppressed);
  }

  /**
   * Suppressed alerts per minute added since the previous call (minute start in ms → count), for
   * callers that store counts incrementally (several managers may add to one minute).
   */
  drainSuppressedCounts(): Map<number, number> {
    const out = this.#suppressedPending;
    this.#suppressedPending = new Map();
    return out;
  }

  /** Copies of the currently open alerts (suppressed ones included), by id. */
  openAlerts(): AlertRecord[] {
    const out: AlertRecord[] = [];
    for (const h of this.#hosts.values()) if (h.alert) out.push({ ...h.alert });
    return out.sort((a, b) => a.id - b.id);
  }

  /** The manager's state as plain JSON, to resume with {@link AlertManager.restore}. */
  snapshot(): AlertManagerState {
    const hosts: AlertHostState[] = [];
    for (const [hostId, h] of this.#hosts) {
      // A host with no streak, no open alert and a cooldown that ended before the order cursor
      // behaves exactly like a host never seen: leave it out.
      const coolingDown = h.cooldownUntil > this.#lastTs;
      if (h.alert === null && h.raiseStreak === 0 && !coolingDown) continue;
      hosts.push({
        hostId,
        lastTs: Number.isFinite(h.lastTs) ? h.lastTs : null,
        raiseStreak: h.raiseStreak,
        streakPeak: h.raiseStreak > 0 ? h.streakPeak : 0,
        streakTop: h.raiseStreak > 0 ? h.streakTop : -1,
        clearStreak: h.clearStreak,
        cooldownUntil: Number.isFinite(h.cooldownUntil) ? h.cooldownUntil : null,
        alert: h.alert ? { ...h.alert } : null,
      });
    }
    return {
      version: 1,
      nextId: this.#nextId,
      last: Number.isFinite(this.#lastTs) ? { ts: this.#lastTs, hostId: this.#lastHost } : null,
      capMinute: Number.isFinite(this.#capMinute) ? this.#capMinute : null,
      capCount: this.#capCount,
      suppressed: [...this.#suppressed],
      suppressedPending: [...this.#suppressedPending],
      hosts,
    };
  }

  /**
   * A manager resumed from a snapshot: fed the records after the snapshot, it gives the same
   * events as one that never stopped (options may differ, e.g. a new onEvent).
   *
   * @param state - a value from {@link AlertManager.snapshot}, possibly through JSON.
   * @param options - as for the constructor.
   * @throws TypeError/RangeError when the state is malformed (naming the field) or options are bad.
   */
  static restore(state: AlertManagerState, options: AlertManagerOptions = {}): AlertManager {
    const m = new AlertManager(options);
    checkState(state);
    m.#nextId = state.nextId;
    if (state.last) {
      m.#lastTs = state.last.ts;
      m.#lastHost = state.last.hostId;
    }
    m.#capMinute = state.capMinute ?? NaN;
    m.#capCount = state.capCount;
    for (const [minute, n] of state.suppressed) m.#suppressed.set(minute, n);
    for (const [minute, n] of state.suppressedPending) m.#suppressedPending.set(minute, n);
    for (const h of state.hosts) {
      m.#hosts.set(h.hostId, {
        lastTs: h.lastTs ?? -Infinity,
        raiseStreak: h.raiseStreak,
        streakPeak: h.streakPeak,
        streakTop: h.streakTop,
        clearStreak: h.clearStreak,
        cooldownUntil: h.cooldownUntil ?? -Infinity,
        alert: h.alert ? { ...h.alert } : null,
      });
    }
    return m;
  }

  /** One valid-or-not record's effect on its host (order already checked). */
  #step(ts: number, hostId: string, fused: number, top: number): void {
    // Invalid records change nothing.
    if (!Number.isFinite(fused)) return;
    let h = this.#hosts.get(hostId);
    if (h === undefined) {
      h = {
        lastTs: -Infinity,
        raiseStreak: 0,
        streakPeak: 0,
        streakTop: -1,
        clearStreak: 0,
        cooldownUntil: -Infinity,
        alert: null,
      };
      this.#hosts.set(hostId, h);
    }
    const o = this.options;
    // A long gap since the host's previous valid record resets both streaks.
    if (ts - h.lastTs > o.gapMs) {
      h.raiseStreak = 0;
      h.clearStreak = 0;
    }
    h.lastTs = ts;

    const alert = h.alert;
    if (alert === null) {
      // Closed: count the raise streak, remembering its peak for the alert it may open.
      if (fused >= o.raiseThreshold) {
        if (h.raiseStreak === 0 || fused > h.streakPeak) {
          h.streakPeak = fused;
          h.streakTop = top;
        }
        h.raiseStreak += 1;
        if (h.raiseStreak >= o.raiseAfter && ts >= h.cooldownUntil) this.#open(h, hostId, ts);
      } else {
        h.raiseStreak = 0;
      }
      return;
    }

    // Open: count the record, track the peak, count the clear streak.
    alert.records += 1;
    if (fused > alert.peakScore) {
      alert.peakScore = fused;
      alert.topMetric = top;
      this.#emit('updated', alert);
    }
    if (fused < o.clearBelow) {
      h.clearStreak += 1;
      if (h.clearStreak >= o.clearAfter) {
        alert.closedAt = ts;
        h.alert = null;
        h.clearStreak = 0;
        h.raiseStreak = 0;
        h.cooldownUntil = ts + o.cooldownMs;
        this.#emit('closed', alert);
      }
    } else {
      h.clearStreak = 0;
    }
  }

  #open(h: HostState, hostId: string, ts: number): void {
    // Storm cap: count unsuppressed openings per epoch-aligned minute of telemetry time; time is
    // monotone across the manager, so only the current minute's count is needed.
    const minute = Math.floor(ts / MINUTE_MS) * MINUTE_MS;
    if (minute !== this.#capMinute) {
      this.#capMinute = minute;
      this.#capCount = 0;
    }
    const suppressed = this.#capCount >= this.options.maxAlertsPerMinute;
    if (suppressed) {
      this.#suppressed.set(minute, (this.#suppressed.get(minute) ?? 0) + 1);
      this.#suppressedPending.set(minute, (this.#suppressedPending.get(minute) ?? 0) + 1);
    } else {
      this.#capCount += 1;
    }
    const alert: AlertRecord = {
      id: this.#nextId++,
      hostId,
      openedAt: ts,
      closedAt: null,
      peakScore: h.streakPeak,
      topMetric: h.streakTop,
      records: 1,
      suppressed,
    };
    h.alert = alert;
    h.raiseStreak = 0;
    h.clearStreak = 0;
    this.#emit('opened', alert);
  }

  #emit(kind: AlertEvent['kind'], alert: AlertRecord): void {
    const event: AlertEvent = { kind, alert: { ...alert } };
    if (this.#onEvent) this.#onEvent(event);
    else this.#events.push(event);
  }

  #checkOrder(ts: number, hostId: string, prevTs: number, prevHost: string, where: string): void {
    if (ts > prevTs || (ts === prevTs && hostId > prevHost)) return;
    throw new RangeError(
      `records must come in strictly increasing (ts, host_id) order${where}; got ts=${ts} ` +
        `host_id=${JSON.stringify(hostId)} after ts=${prevTs} host_id=${JSON.stringify(prevHost)}`,
    );
  }
}

/** Applies defaults and validates the options (explicit checks: the messages are part of the API). */
function resolveOptions(options: AlertManagerOptions): ResolvedAlertOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`options must be an object; got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) {
      throw new TypeError(`options.${key} is not an option; expected one of ${[...OPTION_NAMES].join(', ')}`);
    }
  }
  // Apply defaults
  const raiseAfter = options.raiseAfter ?? 3;
  const clearAfter = options.clearAfter ?? 5;
  const cooldownS = options.cooldownS ?? 300;
  const maxGapS = options.maxGapS ?? 300;
  const intervalS = options.intervalS ?? null;
  const raiseThreshold = options.raiseThreshold ?? 1;
  const clearBelow = options.clearBelow ?? 0.8;
  const maxAlertsPerMinute = options.maxAlertsPerMinute ?? 20;
  // Validate
  checkInteger('raiseAfter', raiseAfter, 1);
  checkInteger('clearAfter', clearAfter, 1);
  checkInteger('maxAlertsPerMinute', maxAlertsPerMinute, 0);
  checkFinite('cooldownS', cooldownS, 0, true);
  checkFinite('maxGapS', maxGapS, 0, false);
  if (intervalS !== null) checkFinite('intervalS', intervalS, 0, false);
  checkFinite('raiseThreshold', raiseThreshold, -Infinity, true);
  checkFinite('clearBelow', clearBelow, -Infinity, true);
  if (clearBelow > raiseThreshold) {
    throw new RangeError(`clearBelow must be ≤ raiseThreshold (${raiseThreshold}); got ${clearBelow}`);
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw new TypeError(`onEvent must be a function; got ${describe(options.onEvent)}`);
  }
  return {
    raiseAfter,
    clearAfter,
    cooldownS,
    maxGapS,
    intervalS,
    raiseThreshold,
    clearBelow,
    maxAlertsPerMinute,
    gapMs: Math.max(maxGapS, 5 * (intervalS ?? 0)) * 1000,
    cooldownMs: cooldownS * 1000,
  };
}

function checkInteger(name: string, v: unknown, min: number): void {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number; got ${describe(v)}`);
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`${name} must be an integer ≥ ${min}; got ${v}`);
  }
}

function checkFinite(name: string, v: unknown, min: number, inclusive: boolean): void {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number; got ${describe(v)}`);
  const ok = Number.isFinite(v) && (inclusive ? v >= min : v > min);
  if (!ok) {
    const bound = min === -Infinity ? 'finite' : `finite and ${inclusive ? '≥' : '>'} ${min}`;
    throw new RangeError(`${name} must be ${bound}; got ${v}`);
  }
}

function checkRecord(ts: unknown, hostId: unknown, fused: unknown, topMetric: unknown): void {
  if (typeof ts !== 'number') {
    throw new TypeError(`rec.ts must be a number of ms; got ${describe(ts)}`);
  }
  if (!Number.isFinite(ts)) {
    throw new RangeError(`rec.ts must be a finite number of ms; got ${ts}`);
  }
  if (typeof hostId !== 'string' || hostId.length === 0) {
    throw new TypeError(`rec.hostId must be a non-empty string; got ${describe(hostId)}`);
  }
  if (typeof fused !== 'number') {
    throw new TypeError(`rec.fused must be a number (NaN if invalid); got ${describe(fused)}`);
  }
  if (typeof topMetric !== 'number') {
    throw new TypeError(`rec.topMetric must be a number; got ${describe(topMetric)}`);
  }
  if (!Number.isInteger(topMetric) || topMetric < -1) {
    throw new RangeError(`rec.topMetric must be an integer ≥ -1; got ${describe(topMetric)}`);
  }
}

function checkColumn(
  name: string,
  v: unknown,
  type: Float64ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor,
  length: number,
): void {
  if (!(v instanceof type)) {
    throw new TypeError(`${name} must be a ${type.name}; got ${describe(v)}`);
  }
  if (v.length < length) {
    throw new RangeError(`${name} must have at least ${length} entries; got ${v.length}`);
  }
}

/** Validates a snapshot read back from storage, field by field. */
function checkState(state: AlertManagerState): void {
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new TypeError(`state.${field} must be ${expected}; got ${describe(got)}`);
  };
  const isInt = (v: unknown, min: number) => Number.isInteger(v) && (v as number) >= min;
  const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (typeof state !== 'object' || state === null) fail('', 'an object', state);
  if (state.version !== 1) fail('version', '1', state.version);
  if (!isInt(state.nextId, 1)) fail('nextId', 'an integer ≥ 1', state.nextId);
  if (state.last !== null) {
    if (typeof state.last !== 'object') fail('last', 'an object or null', state.last);
    if (!isNum(state.last.ts)) fail('last.ts', 'a finite number', state.last.ts);
    if (typeof state.last.hostId !== 'string') fail('last.hostId', 'a string', state.last.hostId);
  }
  if (state.capMinute !== null && !isNum(state.capMinute)) {
    fail('capMinute', 'a finite number or null', state.capMinute);
  }
  if (!isInt(state.capCount, 0)) fail('capCount', 'an integer ≥ 0', state.capCount);
  for (const field of ['suppressed', 'suppressedPending'] as const) {
    const pairs = state[field];
    if (!Array.isArray(pairs)) fail(field, 'an array of [minuteMs, count]', pairs);
    pairs.forEach((p, i) => {
      if (!Array.isArray(p) || p.length !== 2 || !isNum(p[0]) || !isInt(p[1], 1)) {
        fail(`${field}[${i}]`, '[finite minuteMs, integer count ≥ 1]', p);
      }
    });
  }
  if (!Array.isArray(state.hosts)) fail('hosts', 'an array', state.hosts);
  state.hosts.forEach((h, i) => {
    const at = `hosts[${i}]`;
    if (typeof h !== 'object' || h === null) fail(at, 'an object', h);
    if (typeof h.hostId !== 'string' || h.hostId === '') {
      fail(`${at}.hostId`, 'a non-empty string', h.hostId);
    }
    if (h.lastTs !== null && !isNum(h.lastTs)) fail(`${at}.lastTs`, 'a number or null', h.lastTs);
    if (!isInt(h.raiseStreak, 0)) fail(`${at}.raiseStreak`, 'an integer ≥ 0', h.raiseStreak);
    if (!isInt(h.clearStreak, 0)) fail(`${at}.clearStreak`, 'an integer ≥ 0', h.clearStreak);
    if (!isNum(h.streakPeak)) fail(`${at}.streakPeak`, 'a finite number', h.streakPeak);
    if (!isInt(h.streakTop, -1)) fail(`${at}.streakTop`, 'an integer ≥ -1', h.streakTop);
    if (h.cooldownUntil !== null && !isNum(h.cooldownUntil)) {
      fail(`${at}.cooldownUntil`, 'a number or null', h.cooldownUntil);
    }
    const a = h.alert;
    if (a !== null) {
      if (typeof a !== 'object') fail(`${at}.alert`, 'an object or null', a);
      if (!isInt(a.id, 1) || a.id >= state.nextId) {
        fail(`${at}.alert.id`, `an integer in [1, nextId)`, a.id);
      }
      if (a.hostId !== h.hostId) fail(`${at}.alert.hostId`, JSON.stringify(h.hostId), a.hostId);
      if (!isNum(a.openedAt)) fail(`${at}.alert.openedAt`, 'a finite number', a.openedAt);
      if (a.closedAt !== null) fail(`${at}.alert.closedAt`, 'null (the alert is open)', a.closedAt);
      if (!isNum(a.peakScore)) fail(`${at}.alert.peakScore`, 'a finite number', a.peakScore);
      if (!isInt(a.topMetric, -1)) fail(`${at}.alert.topMetric`, 'an integer ≥ -1', a.topMetric);
      if (!isInt(a.records, 1)) fail(`${at}.alert.records`, 'an integer ≥ 1', a.records);
      if (typeof a.suppressed !== 'boolean') {
        fail(`${at}.alert.suppressed`, 'a boolean', a.suppressed);
      }
    }
  });
}
