/**
 * The live scorer of one shard, transport-free: it takes batches of live telemetry (from the
 * generator's `StreamTelemetry` in `tads scorer`, from anything in tests and benches), keeps the
 * records of the hosts its shard owns (DESIGN.md "Sharding"), maps them onto the model's metrics
 * (src/core/column-map.ts), scores them natively in batches, feeds the scores to one detector
 * with the chosen policy (src/core/detector.ts; `source` = `live`) and hands every alert event to
 * a sink (the database in `tads scorer`). It reports records/s and lag (now − the newest
 * record's ts). Under any policy its alerts are those of a dataset job's replay of the same
 * records.
 *
 * Restart semantics (the choice: resume). Events are handed to the sink after every batch and the
 * next batch waits for the sink, so what the sink holds is never more than one batch behind. On
 * {@link LiveScorer.start} the sink's state of the shard — its open alerts and its hosts'
 * cooldowns — resumes the detector ({@link Detector.resume}): an open alert is resumed, not closed
 * or duplicated, and closes by the usual rule (the policy's `clear_after` records below its clear
 * threshold); a host that closed an alert shortly before the stop stays in cooldown. Raise streaks
 * of hosts without an open alert and the policy's windows are not kept: a host part-way to an
 * alert needs `raise_after` flagged records again. The gap rule applies
 * across the stop: after a stop longer than the gap threshold a resumed alert's clear streak
 * starts from zero, exactly as after a gap in the telemetry.
 */
import type { AlertEvent, AlertManagerOptions, AlertRecord } from '../core/alerts.js';
import { columnMap, toModelColumns, type ColumnMap } from '../core/column-map.js';
import { Detector, type DetectorResumeState, type PolicyName } from '../core/detector.js';
import { allocateScoreOutput, PcaModel, scoreBatch, type ScoreOutput } from '../core/pca.js';
import { fnv1a32 } from '../core/sharding.js';
import { METRICS } from '../core/types.js';

/**
 * A batch of live telemetry: `length` records, each with its ts, host and eight metrics in
 * METRICS order. Records should come in (ts, host_id) order (the generator's); a batch that does
 * not is sorted.
 */
export interface LiveBatch {
  length: number;
  /** Milliseconds since the Unix epoch, per record. */
  ts: Float64Array;
  /** Host id per record. */
  hostIds: readonly string[];
  /** The metrics, row-major (`length` × 8) in METRICS order. */
  metrics: Float64Array;
}

/** This scorer's shard: it owns the hosts with fnv1a32(host_id) mod count = index. */
export interface Shard {
  index: number;
  count: number;
}

/** What survives a restart (see the module comment), as the sink stored it. */
export type LiveShardState = DetectorResumeState;

/**
 * Where the live scorer's alerts go. `load` runs once at start; `save` after every batch that
 * produced events or suppressed counts, awaited before the next batch.
 */
export interface LiveAlertSink {
  /** The shard's state left by a previous run (its open alerts and recent closes). */
  load(shard: Shard): Promise<LiveShardState>;
  /**
   * Stores alert events (in order) and suppressed counts added per minute (minute start ms → n).
   * A host has at most one open live alert, so `updated` and `closed` events (of new and of
   * resumed alerts alike) are identified by their host; manager ids are local to one run.
   */
  save(events: readonly AlertEvent[], suppressed: ReadonlyMap<number, number>): Promise<void>;
}

/** Options of {@link LiveScorer}. */
export interface LiveScorerOptions {
  /** The model to score with; its metrics must be telemetry metrics (any order). */
  model: PcaModel;
  /** The shard, index in [0, count), count ≥ 1; default { index: 0, count: 1 }. */
  shard?: Shard;
  /** Records per native scoring call, an integer in [1, 1 000 000]; default 1000. */
  batchSize?: number;
  /** The detector policy of the alerts, as a dataset job takes it; default `default`. */
  policy?: PolicyName;
  /** Alert manager options over the policy's (the sampling interval, …; onEvent is the scorer's). */
  alerts?: Omit<AlertManagerOptions, 'onEvent'>;
  /** Where events go; default none (events are only counted). */
  sink?: LiveAlertSink;
  /** The clock for lag, ms since the Unix epoch; default Date.now. */
  now?: () => number;
}

/** Figures of a live scorer since it started. */
export interface LiveScorerStats {
  shard: Shard;
  /** Records of this shard scored. */
  records: number;
  /** Records of other shards set aside (a generator honouring the shard sends none). */
  foreign: number;
  /** Records scored but not alerted because they came before the last one taken. */
  late: number;
  invalid: number;
  anomalous: number;
  batches: number;
  alertsOpened: number;
  alertsClosed: number;
  /** Alerts opened over the storm cap (stored as suppressed). */
  alertsSuppressed: number;
  /** Alerts resumed from the sink at start. */
  alertsResumed: number;
  /** Currently open alerts. */
  openAlerts: number;
  /** Scored records per second of wall time since the first batch (0 before it). */
  recordsPerS: number;
  /** Wall-clock time minus the newest record's ts at the last batch, ms; null before the first. */
  lagMs: number | null;
  /** Time spent scoring, alerting and saving, ms (the rest is waiting for telemetry). */
  busyMs: number;
}

const MAX_BATCH = 1_000_000;

/**
 * The live scorer of one shard.
 *
 * @example
 * const scorer = new LiveScorer({ model, shard: { index: 0, count: 2 }, sink });
 * await scorer.start();
 * await scorer.run(batches, abortController.signal);
 * console.log(scorer.stats().recordsPerS);
 */
export class LiveScorer {
  /** The shard this scorer owns. */
  readonly shard: Readonly<Shard>;
  readonly #model: PcaModel;
  readonly #batchSize: number;
  readonly #sink: LiveAlertSink | null;
  readonly #now: () => number;
  /** A LiveBatch's METRICS-ordered columns onto the model's metrics. */
  readonly #columns: ColumnMap;
  readonly #detector: Detector;
  #events: AlertEvent[] = [];
  #started = false;
  // Reused buffers of one scoring call: the slice's rows, the same in the model's column order
  // (none when the orders agree), the scores.
  #rows: Float64Array;
  #ordered: Float64Array | undefined;
  #out: ScoreOutput;
  readonly #owned = new Map<string, boolean>();
  #stats: Omit<LiveScorerStats, 'shard' | 'recordsPerS' | 'openAlerts'> & { firstAt: number | null };

  /**
   * @param options - see {@link LiveScorerOptions}
   * @throws TypeError/RangeError for bad options (naming the option: an unknown policy, a model
   *   metric that is not a telemetry metric)
   */
  constructor(options: LiveScorerOptions) {
    // Validate
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`options must be an object; got ${options === null ? 'null' : typeof options}`);
    }
    const {
      model,
      shard = { index: 0, count: 1 },
      batchSize = 1000,
      policy = 'default',
      alerts = {},
      sink,
      now,
    } = options;
    if (!(model instanceof PcaModel)) throw new TypeError('options.model must be a PcaModel');
    if (!Number.isInteger(shard.count) || shard.count < 1 || shard.count > 0xffffffff) {
      throw new RangeError(`options.shard.count must be an integer ≥ 1; got ${String(shard.count)}`);
    }
    if (!Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
      throw new RangeError(
        `options.shard.index must be an integer in [0, ${shard.count - 1}]; got ${String(shard.index)}`,
      );
    }
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
      throw new RangeError(
        `options.batchSize must be an integer in [1, ${MAX_BATCH}]; got ${String(batchSize)}`,
      );
    }
    if ('onEvent' in alerts) throw new TypeError('options.alerts.onEvent is set by the live scorer');
    let columns: ColumnMap;
    try {
      columns = columnMap(model.metrics, METRICS);
    } catch (err) {
      throw new RangeError(`options.model cannot score live telemetry: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const detector = new Detector({ policy, alerts, onEvent: (e) => this.#onEvent(e) });

    // Apply
    this.shard = Object.freeze({ index: shard.index, count: shard.count });
    this.#model = model;
    this.#batchSize = batchSize;
    this.#sink = sink ?? null;
    this.#now = now ?? Date.now;
    this.#columns = columns;
    this.#detector = detector;
    this.#rows = new Float64Array(batchSize * METRICS.length);
    this.#ordered = columns.identity ? undefined : new Float64Array(batchSize * model.nFeatures);
    this.#out = allocateScoreOutput(batchSize, model.nFeatures);
    this.#stats = {
      records: 0,
      foreign: 0,
      late: 0,
      invalid: 0,
      anomalous: 0,
      batches: 0,
      alertsOpened: 0,
      alertsClosed: 0,
      alertsSuppressed: 0,
      alertsResumed: 0,
      lagMs: null,
      busyMs: 0,
      firstAt: null,
    };
  }

  /**
   * Loads the shard's state from the sink and resumes its open alerts and cooldowns (see the
   * module comment). Without a sink it does nothing. Call once, before the first batch.
   *
   * @throws Error when called twice or after a batch; whatever the sink's load throws
   */
  async start(): Promise<void> {
    if (this.#started || this.#stats.batches > 0)
      throw new Error('start() must be called once, before any batch');
    this.#started = true;
    if (this.#sink === null) return;
    const state = await this.#sink.load({ ...this.shard });
    // Resumed alerts take ids 1..n in the order the sink gave them, which is how it maps them back.
    const openAlerts = state.openAlerts.filter((a) => this.#owns(a.hostId));
    this.#detector.resume({ openAlerts, lastClosed: state.lastClosed.filter((c) => this.#owns(c.hostId)) });
    this.#stats.alertsResumed = openAlerts.length;
  }

  /**
   * Takes batches until the input ends or `signal` aborts (then it stops after the batch in hand,
   * its events saved, and leaves the input by `return()`).
   *
   * @param input - batches of live telemetry
   * @param signal - optional stop signal
   * @returns the figures at the end
   */
  async run(input: AsyncIterable<LiveBatch>, signal?: AbortSignal): Promise<LiveScorerStats> {
    if (!this.#started) await this.start();
    if (signal?.aborted) return this.stats();
    const it = input[Symbol.asyncIterator]();
    // A stop must not wait for the next batch of a slow (real-time) stream.
    const stopped = new Promise<null>((resolve) =>
      signal?.addEventListener('abort', () => resolve(null), { once: true }),
    );
    let finished = false;
    try {
      for (;;) {
        const next = await Promise.race([it.next(), stopped]);
        if (next === null) break;
        if (next.done === true) {
          finished = true;
          break;
        }
        await this.ingest(next.value);
        if (signal?.aborted) break;
      }
    } finally {
      // Leave the input (a generator with a read pending returns once that read settles).
      if (!finished) it.return?.().catch(() => {});
    }
    return this.stats();
  }

  /**
   * Scores one batch: keeps this shard's records, scores them in slices of `batchSize`, feeds the
   * detector in (ts, host_id) order and saves the events.
   *
   * @throws TypeError/RangeError for a malformed batch (naming the field); Error when there is a
   *   sink and {@link LiveScorer.start} was not called; the sink's errors
   */
  async ingest(batch: LiveBatch): Promise<void> {
    // Without the sink's state an alert could open beside one still open from a previous run.
    if (this.#sink !== null && !this.#started) throw new Error('start() must be called before ingest()');
    checkBatch(batch);
    const began = performance.now();
    if (this.#stats.firstAt === null) this.#stats.firstAt = began;

    // Keep this shard's rows, in (ts, host_id) order.
    const rows: number[] = [];
    let newest = -Infinity;
    for (let i = 0; i < batch.length; i++) {
      if (!this.#owns(batch.hostIds[i]!)) {
        this.#stats.foreign += 1;
        continue;
      }
      rows.push(i);
      if (batch.ts[i]! > newest) newest = batch.ts[i]!;
    }
    if (!isOrdered(batch, rows)) {
      rows.sort((a, b) => batch.ts[a]! - batch.ts[b]! || compareText(batch.hostIds[a]!, batch.hostIds[b]!));
    }

    // Score and alert slice by slice (the reused buffers hold one slice).
    for (let start = 0; start < rows.length; start += this.#batchSize) {
      const end = Math.min(rows.length, start + this.#batchSize);
      this.#scoreSlice(batch, rows, start, end);
    }

    // Save what happened before the next batch is taken.
    const events = this.#events;
    this.#events = [];
    const suppressed = this.#detector.drainSuppressedCounts();
    if (this.#sink !== null && (events.length > 0 || suppressed.size > 0)) {
      await this.#sink.save(events, suppressed);
    }
    this.#stats.batches += 1;
    if (Number.isFinite(newest)) this.#stats.lagMs = this.#now() - newest;
    this.#stats.busyMs += performance.now() - began;
  }

  /** The figures since start (see {@link LiveScorerStats}). */
  stats(): LiveScorerStats {
    const { firstAt, ...rest } = this.#stats;
    const elapsedS = firstAt === null ? 0 : (performance.now() - firstAt) / 1000;
    return {
      shard: { ...this.shard },
      ...rest,
      openAlerts: this.#detector.openAlerts().length,
      recordsPerS: elapsedS > 0 ? this.#stats.records / elapsedS : 0,
    };
  }

  /** The detector's open alerts (its ids; resumed alerts are 1..n in load order). */
  openAlerts(): AlertRecord[] {
    return this.#detector.openAlerts();
  }

  #scoreSlice(batch: LiveBatch, rows: readonly number[], start: number, end: number): void {
    const n = end - start;
    const d = this.#model.nFeatures;
    const width = METRICS.length;
    // Gather the slice's rows, then map them into the model's column order.
    const data = this.#rows;
    for (let r = 0; r < n; r++) {
      const src = rows[start + r]! * width;
      const dst = r * width;
      for (let j = 0; j < width; j++) data[dst + j] = batch.metrics[src + j]!;
    }
    const matrix = toModelColumns(
      this.#columns,
      { rows: n, cols: width, data: data.subarray(0, n * width) },
      this.#ordered,
    );
    const out = scoreBatch(this.#model, matrix, { out: this.#out });
    this.#stats.records += n;
    this.#stats.invalid += out.invalidCount;
    for (let r = 0; r < n; r++) this.#stats.anomalous += out.anomalous[r]!;

    // Alert in order; a record at or before the last one taken (a late or repeated record) is
    // scored but cannot be alerted without breaking the replay order, so it is set aside.
    const ts = new Float64Array(n);
    const hostIds = new Array<string>(n);
    let kept = 0;
    const fused = new Float64Array(n);
    const top = new Int32Array(n);
    // The metric values a flatline rule reads, in the model's column order.
    const metrics = this.#detector.needsMetrics ? new Float64Array(n * d) : undefined;
    let lastTs = -Infinity;
    let lastHost = '';
    for (let r = 0; r < n; r++) {
      const i = rows[start + r]!;
      const t = batch.ts[i]!;
      const h = batch.hostIds[i]!;
      const after = kept === 0 ? this.#detector.accepts(t, h) : t > lastTs || (t === lastTs && h > lastHost);
      if (!after) {
        this.#stats.late += 1;
        continue;
      }
      ts[kept] = t;
      hostIds[kept] = h;
      fused[kept] = out.fused[r]!;
      top[kept] = out.topMetric[r]!;
      metrics?.set(matrix.data.subarray(r * d, (r + 1) * d), kept * d);
      lastTs = t;
      lastHost = h;
      kept += 1;
    }
    this.#detector.process({ ts, hostIds, fused, topMetric: top, metrics, d }, kept);
  }

  #owns(hostId: string): boolean {
    if (this.shard.count === 1) return true;
    let owned = this.#owned.get(hostId);
    if (owned === undefined) {
      owned = fnv1a32(hostId) % this.shard.count === this.shard.index;
      this.#owned.set(hostId, owned);
    }
    return owned;
  }

  #onEvent(e: AlertEvent): void {
    if (e.kind === 'opened') {
      this.#stats.alertsOpened += 1;
      if (e.alert.suppressed) this.#stats.alertsSuppressed += 1;
    } else if (e.kind === 'closed') {
      this.#stats.alertsClosed += 1;
    }
    this.#events.push(e);
  }
}

// Host ids compare by UTF-16 code units, as the alert manager's order check does.
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isOrdered(batch: LiveBatch, rows: readonly number[]): boolean {
  for (let r = 1; r < rows.length; r++) {
    const a = rows[r - 1]!;
    const b = rows[r]!;
    const dt = batch.ts[b]! - batch.ts[a]!;
    if (dt < 0 || (dt === 0 && batch.hostIds[b]! <= batch.hostIds[a]!)) return false;
  }
  return true;
}

function checkBatch(batch: LiveBatch): void {
  if (typeof batch !== 'object' || batch === null) throw new TypeError('batch must be an object');
  const { length, ts, hostIds, metrics } = batch;
  if (!Number.isInteger(length) || length < 0) {
    throw new RangeError(`batch.length must be an integer ≥ 0; got ${String(length)}`);
  }
  if (!(ts instanceof Float64Array) || ts.length < length) {
    throw new TypeError(`batch.ts must be a Float64Array of at least ${length} entries`);
  }
  if (!Array.isArray(hostIds) || hostIds.length < length) {
    throw new TypeError(`batch.hostIds must be an array of at least ${length} host ids`);
  }
  if (!(metrics instanceof Float64Array) || metrics.length < length * METRICS.length) {
    throw new TypeError(
      `batch.metrics must be a Float64Array of at least ${length} × ${METRICS.length} values`,
    );
  }
  for (let i = 0; i < length; i++) {
    if (!Number.isFinite(ts[i]!))
      throw new RangeError(`batch.ts[${i}] must be a finite number of ms; got ${ts[i]}`);
    const h: unknown = hostIds[i];
    if (typeof h !== 'string' || h.length === 0) {
      throw new TypeError(`batch.hostIds[${i}] must be a non-empty string; got ${JSON.stringify(h)}`);
    }
  }
}
