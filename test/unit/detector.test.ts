/**
 * Detector policies (src/core/detector.ts): bad input first, then the k-of-n window, the flatline
 * rule, gaps, per-host state, and the alert options each policy gives the AlertManager.
 */
import { describe, expect, it } from 'vitest';
import { AlertManager } from '../../src/core/alerts.js';
import {
  alertOptionsFor,
  DEFAULT_POLICY,
  PolicyFilter,
  policyByName,
  SMOOTHED_POLICY,
  type DetectorPolicy,
} from '../../src/core/detector.js';

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
