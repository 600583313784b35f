/**
 * Detector policies (src/core/detector.ts): bad input first, then the k-of-n window, the flatline
 * rule, gaps, per-host state, and the alert options each policy gives the AlertManager; then the
 * Detector that puts a policy and an AlertManager together, and its resume.
 */
import { describe, expect, it } from 'vitest';
import { AlertManager, type AlertEvent } from '../../src/core/alerts.js';
import {
  alertOptionsFor,
  DEFAULT_POLICY,
  Detector,
  PolicyFilter,
  policyByName,
  SMOOTHED_POLICY,
  type DetectorPolicy,
  type DetectorResumeState,
  type PolicyInput,
} from '../../src/core/detector.js';
import { mulberry32 } from '../../scripts/make-pca-fixture.mjs';

const MIN = 60_000;

/** Runs one host's records through a filter; returns the policy scores and top metrics. */
function run(policy: DetectorPolicy, fused: number[], opts: { metrics?: number[][]; gapAt?: number } = {}) {
  const n = fused.length;
  const ts = Float64Array.from(
    { length: n },
    (_, i) => i * MIN + (opts.gapAt !== undefined && i >= opts.gapAt ? 3600_000 : 0),
  );
  const metrics = opts.metrics ? Float64Array.from(opts.metrics.flat()) : undefined;
  const d = opts.metrics ? opts.metrics[0]!.length : undefined;
  const out = { score: new Float64Array(n), topMetric: new Int32Array(n) };
  new PolicyFilter(policy).apply(
    {
      hostIds: Array.from({ length: n }, () => 'h1'),
      ts,
      fused: Float64Array.from(fused),
      topMetric: Int32Array.from({ length: n }, () => 5),
      metrics,
      d,
    },
    n,
    out,
  );
  return { score: Array.from(out.score), top: Array.from(out.topMetric) };
}

const KOFN: DetectorPolicy = {
  name: 'smoothed',
  window: { k: 2, n: 3 },
  flatline: null,
  threshold: 1,
  alerts: {},
};

describe('PolicyFilter: bad input', () => {
  it('rejects windows, repeats, thresholds and gaps out of range, naming them', () => {
    expect(() => new PolicyFilter({ ...KOFN, window: { k: 4, n: 3 } })).toThrow(
      'policy.window.k must be an integer in [1, 3]; got 4',
    );
    expect(() => new PolicyFilter({ ...KOFN, window: { k: 1, n: 0 } })).toThrow(
      'policy.window.n must be an integer in [1, 1000]; got 0',
    );
    expect(() => new PolicyFilter({ ...KOFN, flatline: { repeats: 0 } })).toThrow(
      'policy.flatline.repeats must be an integer in [1, 1000]; got 0',
    );
    expect(() => new PolicyFilter({ ...KOFN, threshold: 0 })).toThrow(
      'policy.threshold must be a finite number > 0; got 0',
    );
    expect(() => new PolicyFilter(KOFN, { gapMs: -1 })).toThrow('gapMs must be a finite number > 0; got -1');
  });

  it('rejects short columns and missing metrics for a flatline rule', () => {
    const f = new PolicyFilter(SMOOTHED_POLICY);
    const one = {
      hostIds: ['h'],
      ts: new Float64Array(1),
      fused: new Float64Array(1),
      topMetric: new Int32Array(1),
    };
    const out = { score: new Float64Array(1), topMetric: new Int32Array(1) };
    expect(() => f.apply(one, 2, out)).toThrow('hostIds must have at least 2 entries; got 1');
    expect(() => f.apply(one, 1, out)).toThrow(/metrics must be a Float64Array of at least length × d/);
  });

  it('names an unknown policy', () => {
    expect(() => policyByName('loud')).toThrow('policy must be one of default, smoothed; got "loud"');
    expect(policyByName('default')).toBe(DEFAULT_POLICY);
    expect(policyByName('smoothed')).toBe(SMOOTHED_POLICY);
  });
});

describe('PolicyFilter: k-of-n', () => {
  it('passes fused scores through under the default policy', () => {
    const f = new PolicyFilter(DEFAULT_POLICY);
    expect(f.identity).toBe(true);
    expect(run(DEFAULT_POLICY, [0.2, 3, NaN, 0.5]).score).toEqual([0.2, 3, NaN, 0.5]);
  });

  it('scores the k-th largest of the last n records (0 until k records are in)', () => {
    // Windows: [.5] [.5 2] [.5 2 .1] [2 .1 3] [.1 3 4] [3 4 .2]
    expect(run(KOFN, [0.5, 2, 0.1, 3, 4, 0.2]).score).toEqual([0, 0.5, 0.5, 2, 3, 3]);
  });

  it('lets one outlier neither raise nor hold a flag', () => {
    const { score } = run(KOFN, [0.1, 9, 0.1, 0.1, 9, 0.2, 0.1]);
    expect(score.every((s) => s < 1)).toBe(true);
  });

  it('skips invalid records without changing the window', () => {
    expect(run(KOFN, [2, NaN, 2]).score).toEqual([0, NaN, 2]);
  });

  it('empties the window after a gap longer than gapMs', () => {
    // The gap (an hour) comes before record 2: the window restarts there.
    expect(run(KOFN, [2, 2, 2, 2], { gapAt: 2 }).score).toEqual([0, 2, 0, 2]);
  });

  it('keeps hosts apart', () => {
    const f = new PolicyFilter(KOFN);
    const out = { score: new Float64Array(4), topMetric: new Int32Array(4) };
    f.apply(
      {
        hostIds: ['a', 'b', 'a', 'b'],
        ts: Float64Array.from([0, 0, MIN, MIN]),
        fused: Float64Array.from([2, 0.1, 2, 0.1]),
        topMetric: new Int32Array(4),
      },
      4,
      out,
    );
    expect(Array.from(out.score)).toEqual([0, 0, 2, 0.1]);
  });
});

describe('PolicyFilter: flatline', () => {
  const FLAT: DetectorPolicy = {
    name: 'smoothed',
    window: null,
    flatline: { repeats: 2 },
    threshold: 0.7,
    alerts: {},
  };

  it('scores a metric repeating its value exactly, with that metric as the top metric', () => {
    const rows = [
      [10, 1],
      [11, 7],
      [12, 7],
      [13, 7],
      [14, 7],
      [15, 2],
    ];
    const { score, top } = run(FLAT, [0.1, 0.1, 0.1, 0.1, 0.1, 0.1], { metrics: rows });
    // Repeats of metric 1: 0, 0, 1, 2, 3, 0 → flagged at 2 repeats (score = threshold), more above.
    expect(score.slice(0, 3)).toEqual([0.1, 0.1, 0.1]);
    expect(score[3]).toBeCloseTo(0.7, 12);
    expect(score[4]).toBeCloseTo(1.05, 12);
    expect(score[5]).toBe(0.1);
    expect(top).toEqual([5, 5, 5, 1, 1, 5]);
  });

  it('ignores repeats at a physical limit (0 or 100)', () => {
    const rows = [
      [100, 0],
      [100, 0],
      [100, 0],
      [100, 0],
    ];
    expect(run(FLAT, [0.2, 0.2, 0.2, 0.2], { metrics: rows }).score).toEqual([0.2, 0.2, 0.2, 0.2]);
  });
});

describe('alertOptionsFor', () => {
  it('gives the pinned defaults for the default policy', () => {
    const m = new AlertManager(alertOptionsFor(DEFAULT_POLICY, 60));
    expect(m.options).toMatchObject({
      raiseAfter: 3,
      clearAfter: 5,
      raiseThreshold: 1,
      clearBelow: 0.8,
      cooldownS: 300,
    });
  });

  it('raises on the first flagged record under the smoothed policy, clearing below 0.5', () => {
    const m = new AlertManager(alertOptionsFor(SMOOTHED_POLICY, 60));
    expect(m.options).toMatchObject({ raiseAfter: 1, clearAfter: 5, raiseThreshold: 0.7, clearBelow: 0.5 });
    // A clear threshold above a low raise threshold is capped to it.
    const low: DetectorPolicy = { ...SMOOTHED_POLICY, threshold: 0.3, alerts: { clearBelow: 0.5 } };
    expect(alertOptionsFor(low).clearBelow).toBe(0.3);
  });
});

const D = 3;

/**
 * A fleet's scored records in (ts, host_id) order, one record per host a minute: noisy fused
 * scores with anomalous stretches, invalid records, and metrics that sometimes freeze. With
 * `gapAfter`, a gap of 10 minutes (longer than the alert manager's gap threshold) follows that
 * many steps.
 */
function fleetBatch(
  seed: number,
  hosts: number,
  steps: number,
  gapAfter?: number,
): PolicyInput & { length: number } {
  const r = mulberry32(seed);
  const length = hosts * steps;
  const ts = new Float64Array(length);
  const hostIds = new Array<string>(length);
  const fused = new Float64Array(length);
  const topMetric = new Int32Array(length);
  const metrics = new Float64Array(length * D);
  const anomalous = new Array<number>(hosts).fill(0);
  const frozen = new Array<number>(hosts).fill(0);
  for (let t = 0; t < steps; t++) {
    for (let h = 0; h < hosts; h++) {
      const i = t * hosts + h;
      ts[i] = Date.UTC(2024, 0, 1) + t * MIN + (gapAfter !== undefined && t >= gapAfter ? 10 * MIN : 0);
      hostIds[i] = `host-${h}`;
      if (anomalous[h] === 0 && r() < 0.04) anomalous[h] = 3 + Math.floor(r() * 10);
      if (frozen[h] === 0 && r() < 0.01) frozen[h] = 2 + Math.floor(r() * 4);
      const hot = anomalous[h]! > 0;
      if (hot) anomalous[h]! -= 1;
      fused[i] = r() < 0.02 ? NaN : hot ? 0.6 + r() * 1.2 : r() * 0.6;
      topMetric[i] = Number.isNaN(fused[i]) ? -1 : Math.floor(r() * D);
      for (let j = 0; j < D; j++) {
        const prev = t > 0 ? metrics[((t - 1) * hosts + h) * D + j]! : 50;
        metrics[i * D + j] = frozen[h]! > 0 ? prev : 20 + r() * 60;
      }
      if (frozen[h]! > 0) frozen[h]! -= 1;
    }
  }
  return { length, ts, hostIds, fused, topMetric, metrics, d: D };
}

/** Rows [from, to) of a batch. */
function rowsOf(
  b: PolicyInput & { length: number },
  from: number,
  to: number,
): PolicyInput & { length: number } {
  return {
    length: to - from,
    ts: b.ts.slice(from, to),
    hostIds: b.hostIds.slice(from, to),
    fused: b.fused.slice(from, to),
    topMetric: b.topMetric.slice(from, to),
    metrics: b.metrics!.slice(from * D, to * D),
    d: D,
  };
}

/** An event without the manager-local id (a resumed run numbers its alerts afresh). */
const withoutId = (e: AlertEvent) => {
  const { id: _id, ...alert } = e.alert;
  return { kind: e.kind, ...alert };
};

describe('Detector: bad input', () => {
  it('names an unknown policy, a bad alert option and a misplaced onEvent', () => {
    expect(() => new Detector({ policy: 'strict' as never })).toThrow(
      new RangeError('policy must be one of default, smoothed; got "strict"'),
    );
    expect(() => new Detector({ alerts: { raiseAfter: 0 } })).toThrow(
      new RangeError('raiseAfter must be an integer ≥ 1; got 0'),
    );
    expect(() => new Detector({ alerts: { onEvent: () => {} } as never })).toThrow(
      new TypeError('options.alerts.onEvent is not an option; use options.onEvent'),
    );
  });

  it('refuses an out-of-order batch without moving the policy state, naming the row', () => {
    const b = fleetBatch(3, 4, 50);
    // High scores a filter must not remember, then one row out of order.
    const bad = rowsOf(b, 0, 20);
    bad.fused.fill(2);
    bad.ts[10] = bad.ts[0]!;
    const detector = new Detector({ policy: 'smoothed' });
    expect(() => detector.process(bad, bad.length)).toThrow(
      /strictly increasing \(ts, host_id\) order at row 10/,
    );
    detector.process(b, b.length);
    const fresh = new Detector({ policy: 'smoothed' });
    fresh.process(b, b.length);
    expect(detector.drainEvents()).toEqual(fresh.drainEvents());
  });

  it('needs the metrics for a flatline rule only', () => {
    expect(new Detector().needsMetrics).toBe(false);
    expect(new Detector({ policy: SMOOTHED_POLICY }).needsMetrics).toBe(true);
    const b = fleetBatch(3, 2, 5);
    expect(() =>
      new Detector({ policy: 'smoothed' }).process({ ...b, metrics: undefined }, b.length),
    ).toThrow(/metrics must be a Float64Array/);
  });

  it('resumes only before the first record', () => {
    const detector = new Detector();
    const b = fleetBatch(3, 2, 5);
    detector.process(b, b.length);
    expect(() => detector.resume({ openAlerts: [], lastClosed: [] })).toThrow(
      'resume() must come before the first record',
    );
  });
});

describe('Detector', () => {
  it.each(['default', 'smoothed'] as const)(
    'gives the events of the policy filter and the alert manager by hand (%s)',
    (name) => {
      const b = fleetBatch(5, 8, 400);
      const policy = policyByName(name);
      const manager = new AlertManager(alertOptionsFor(policy, 60));
      const filter = new PolicyFilter(policy, { gapMs: manager.options.gapMs });
      const out = { score: new Float64Array(b.length), topMetric: new Int32Array(b.length) };
      filter.apply(b, b.length, out);
      manager.processBatch(
        { ts: b.ts, hostIds: b.hostIds, fused: out.score, topMetric: out.topMetric },
        b.length,
      );
      const expected = manager.drainEvents();
      expect(expected.length).toBeGreaterThan(10);

      // In uneven batches, events through onEvent.
      const events: AlertEvent[] = [];
      const detector = new Detector({
        policy: name,
        alerts: { intervalS: 60 },
        onEvent: (e) => events.push(e),
      });
      for (let at = 0; at < b.length; at += 777) {
        const part = rowsOf(b, at, Math.min(b.length, at + 777));
        detector.process(part, part.length);
      }
      expect(events).toEqual(expected);
      expect(detector.suppressedCounts()).toEqual(manager.suppressedCounts());
      expect(detector.openAlerts()).toEqual(manager.openAlerts());
    },
  );

  it.each(['default', 'smoothed'] as const)(
    'resumed from its open alerts and closes, gives the events of an uninterrupted run (%s)',
    (name) => {
      // A stop at a gap in the telemetry: streaks and windows are empty either way, so what the
      // resume carries (open alerts, cooldowns) is all that matters. A long cooldown reaches
      // across the gap.
      const steps = 300;
      const hosts = 8;
      const b = fleetBatch(9, hosts, 2 * steps, steps);
      const split = hosts * steps;
      const alerts = { intervalS: 60, cooldownS: 3600 };
      const whole = new Detector({ policy: name, alerts });
      const first = rowsOf(b, 0, split);
      const rest = rowsOf(b, split, b.length);
      whole.process(first, first.length);
      const before = whole.drainEvents();

      // What a live sink keeps: the open alerts and each host's last close.
      const lastClosed = new Map<string, number>();
      for (const e of before) if (e.kind === 'closed') lastClosed.set(e.alert.hostId, e.alert.closedAt!);
      const state: DetectorResumeState = {
        openAlerts: whole.openAlerts().map((a) => ({
          hostId: a.hostId,
          openedAt: a.openedAt,
          peakScore: a.peakScore,
          topMetric: a.topMetric,
          records: a.records,
          suppressed: a.suppressed,
        })),
        lastClosed: [...lastClosed].map(([hostId, closedAt]) => ({ hostId, closedAt })),
      };
      expect(state.openAlerts.length).toBeGreaterThan(0);
      expect(state.lastClosed.length).toBeGreaterThan(0);

      whole.process(rest, rest.length);
      const expected = whole.drainEvents();
      const resumed = new Detector({ policy: name, alerts });
      resumed.resume(state);
      expect(resumed.openAlerts().map((a) => a.hostId)).toEqual(state.openAlerts.map((a) => a.hostId));
      resumed.process(rest, rest.length);
      const got = resumed.drainEvents();
      expect(expected.some((e) => e.kind === 'closed' && e.alert.openedAt < rest.ts[0]!)).toBe(true);
      expect(got.map(withoutId)).toEqual(expected.map(withoutId));

      // Without the closes, a host still cooling down would open an alert early.
      const forgetful = new Detector({ policy: name, alerts });
      forgetful.resume({ ...state, lastClosed: [] });
      forgetful.process(rest, rest.length);
      expect(forgetful.drainEvents().map(withoutId)).not.toEqual(expected.map(withoutId));
    },
  );
});
