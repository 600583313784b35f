import { describe, expect, it } from 'vitest';
import {
  averagePrecision,
  eventMetrics,
  pointwiseMetrics,
  prCurve,
  rankingMetrics,
  rocAuc,
  rocCurve,
  type AlertSpan,
  type EpisodeSpan,
} from '../../src/core/evaluation.js';
import { mulberry32 } from '../../scripts/make-pca-fixture.mjs';

const u8 = (...v: number[]) => Uint8Array.from(v);
const f64 = (...v: number[]) => Float64Array.from(v);

/** Random labels (about 10 % positive) and scores with many ties (two decimals), positives higher. */
function randomData(n: number, seed: number): { labels: Uint8Array; scores: Float64Array } {
  const r = mulberry32(seed);
  const labels = new Uint8Array(n);
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = r() < 0.1 ? 1 : 0;
    scores[i] = Math.round((r() + (labels[i] ? 0.4 : 0)) * 100) / 100;
  }
  return { labels, scores };
}

/** AUC straight from its definition: over all (positive, negative) pairs, ties count 1/2. */
function bruteAuc(labels: Uint8Array, scores: Float64Array): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    if (!labels[i] || Number.isNaN(scores[i])) continue;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j] || Number.isNaN(scores[j])) continue;
      pairs++;
      if (scores[i]! > scores[j]!) wins += 1;
      else if (scores[i] === scores[j]) wins += 0.5;
    }
  }
  return wins / pairs;
}

/**
 * scikit-learn's average_precision_score written out as its source does it: a stable sort by
 * descending score, the last index of each distinct score as a threshold, cumulative true and
 * false positives there, then AP = −Σ diff(recall) · precision[:-1] over the reversed curve with
 * (recall 0, precision 1) appended.
 */
function sklearnAp(labels: Uint8Array, scores: Float64Array): number {
  const idx = Array.from(labels, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const y = idx.map((i) => labels[i]!);
  const s = idx.map((i) => scores[i]!);
  const thresholdIdx: number[] = [];
  for (let k = 0; k < s.length; k++) if (k === s.length - 1 || s[k + 1] !== s[k]) thresholdIdx.push(k);
  const cum: number[] = [];
  y.reduce((acc, v, k) => (cum[k] = acc + v), 0);
  const tps = thresholdIdx.map((k) => cum[k]!);
  const fps = thresholdIdx.map((k, m) => 1 + k - tps[m]!);
  const precision = tps.map((tp, m) => tp / (tp + fps[m]!));
  const recall = tps.map((tp) => tp / tps[tps.length - 1]!);
  precision.reverse().push(1);
  recall.reverse().push(0);
  let ap = 0;
  for (let k = 0; k < recall.length - 1; k++) ap -= (recall[k + 1]! - recall[k]!) * precision[k]!;
  return ap;
}

describe('pointwiseMetrics', () => {
  it('rejects bad input', () => {
    expect(() => pointwiseMetrics([1, 0] as unknown as Uint8Array, u8(1, 0))).toThrow(
      new TypeError('labels must be a Uint8Array; got an array'),
    );
    expect(() => pointwiseMetrics(u8(1, 0), u8(1))).toThrow(
      new RangeError('flags must have the length of labels (2); got 1'),
    );
  });

  it('computes a hand-checked fixture', () => {
    // labels 1 0 1 1 0 0, flags 1 1 0 1 0 0: tp at 0 and 3, fp at 1, fn at 2, tn at 4 and 5.
    // precision 2/3, recall 2/3, F1 = 2·2/(2·2 + 1 + 1) = 2/3.
    expect(pointwiseMetrics(u8(1, 0, 1, 1, 0, 0), u8(1, 1, 0, 1, 0, 0))).toEqual({
      precision: 2 / 3,
      recall: 2 / 3,
      f1: 2 / 3,
      confusion: { tp: 2, fp: 1, tn: 2, fn: 1 },
    });
  });

  it('gives null, not 0 or NaN, where a figure is undefined', () => {
    // Nothing flagged: precision (and so F1) undefined; recall 0 of 2.
    expect(pointwiseMetrics(u8(1, 1, 0), u8(0, 0, 0))).toMatchObject({
      precision: null,
      recall: 0,
      f1: null,
    });
    // No positive labels: recall undefined; precision 0 of 1.
    expect(pointwiseMetrics(u8(0, 0), u8(1, 0))).toMatchObject({ precision: 0, recall: null, f1: null });
    expect(pointwiseMetrics(u8(), u8())).toMatchObject({ precision: null, recall: null, f1: null });
    // Both defined but no hit: F1 is 0.
    expect(pointwiseMetrics(u8(1, 0), u8(0, 1)).f1).toBe(0);
  });
});

describe('rocAuc and averagePrecision', () => {
  it('reject bad input', () => {
    expect(() => rocAuc(u8(1, 0), [0.1, 0.2] as unknown as Float64Array)).toThrow(
      new TypeError('scores must be a Float64Array or Float32Array; got an array'),
    );
    expect(() => averagePrecision(u8(1, 0), f64(0.1))).toThrow(
      new RangeError('scores must have the length of labels (2); got 1'),
    );
  });

  it('compute a hand-checked fixture', () => {
    // Pairs (positive, negative): 0.35 > 0.1, 0.35 < 0.4, 0.8 > 0.1, 0.8 > 0.4 → AUC 3/4.
    // AP: 0.8 (pos) recall 1/2 at precision 1; 0.4 (neg); 0.35 (pos) recall 1 at precision 2/3:
    // AP = 1/2 · 1 + 1/2 · 2/3 = 5/6.
    const labels = u8(0, 0, 1, 1);
    const scores = f64(0.1, 0.4, 0.35, 0.8);
    expect(rocAuc(labels, scores)).toEqual({ value: 0.75, positives: 2, negatives: 2, excluded: 0 });
    expect(averagePrecision(labels, scores).value).toBeCloseTo(5 / 6, 15);
  });

  it('average ties', () => {
    // Positives 0.5 and 0.9, negatives 0.5 and 0.1: the tied pair counts 1/2 → 3.5/4 = 0.875.
    // AP: 0.9 recall 1/2 at precision 1; 0.5 is one threshold holding a positive and a
    // negative: recall 1 at precision 2/3 → 1/2 + 1/3 = 5/6.
    const labels = u8(1, 0, 1, 0);
    const scores = f64(0.5, 0.5, 0.9, 0.1);
    expect(rocAuc(labels, scores).value).toBe(0.875);
    expect(averagePrecision(labels, scores).value).toBeCloseTo(5 / 6, 15);
    // All scores equal: AUC 1/2, AP = the positive rate.
    expect(rocAuc(u8(1, 0, 0, 0), f64(1, 1, 1, 1)).value).toBe(0.5);
    expect(averagePrecision(u8(1, 0, 0, 0), f64(1, 1, 1, 1)).value).toBe(0.25);
    // −0 and +0 are one tie.
    expect(rocAuc(u8(1, 0), f64(-0, 0)).value).toBe(0.5);
  });

  it('leave NaN scores out and count them', () => {
    const labels = u8(0, 0, 1, 1, 1, 0);
    const scores = f64(0.1, 0.4, 0.35, 0.8, NaN, NaN);
    expect(rocAuc(labels, scores)).toEqual({ value: 0.75, positives: 2, negatives: 2, excluded: 2 });
    expect(averagePrecision(labels, scores).excluded).toBe(2);
    expect(averagePrecision(labels, scores).value).toBeCloseTo(5 / 6, 15);
  });

  it('are null when undefined', () => {
    expect(rocAuc(u8(1, 1), f64(0.2, 0.3)).value).toBeNull();
    expect(rocAuc(u8(0, 0), f64(0.2, 0.3)).value).toBeNull();
    expect(rocAuc(u8(), f64()).value).toBeNull();
    expect(rocAuc(u8(1, 0), f64(0.2, NaN)).value).toBeNull();
    expect(averagePrecision(u8(0, 0), f64(0.2, 0.3)).value).toBeNull();
    // Only positives: every threshold has precision 1.
    expect(averagePrecision(u8(1, 1), f64(0.2, 0.3)).value).toBe(1);
  });

  it('match a brute-force pairwise AUC and an independent sklearn AP on random data', () => {
    for (const seed of [1, 2, 3]) {
      const { labels, scores } = randomData(1500, seed);
      const m = rankingMetrics(labels, scores);
      expect(m.rocAuc).toBeCloseTo(bruteAuc(labels, scores), 12);
      expect(m.averagePrecision).toBeCloseTo(sklearnAp(labels, scores), 12);
      // Float32 scores rank the same as their doubles.
      const f32 = Float32Array.from(scores);
      expect(rocAuc(labels, f32).value).toBeCloseTo(bruteAuc(labels, Float64Array.from(f32)), 12);
    }
  });
});

describe('rocCurve and prCurve', () => {
  const labels = u8(0, 0, 1, 1);
  const scores = f64(0.1, 0.4, 0.35, 0.8);

  it('reject a bad maxPoints', () => {
    expect(() => rocCurve(labels, scores, 1)).toThrow(
      new RangeError('maxPoints must be an integer ≥ 2; got 1'),
    );
  });

  it('give every point of a small curve', () => {
    expect(rocCurve(labels, scores).points).toEqual([
      { threshold: null, fpr: 0, tpr: 0 },
      { threshold: 0.8, fpr: 0, tpr: 0.5 },
      { threshold: 0.4, fpr: 0.5, tpr: 0.5 },
      { threshold: 0.35, fpr: 0.5, tpr: 1 },
      { threshold: 0.1, fpr: 1, tpr: 1 },
    ]);
    // The PR curve stops at full recall (0.35), as scikit-learn's does.
    expect(prCurve(labels, scores).points).toEqual([
      { threshold: null, precision: 1, recall: 0 },
      { threshold: 0.8, precision: 1, recall: 0.5 },
      { threshold: 0.4, precision: 0.5, recall: 0.5 },
      { threshold: 0.35, precision: 2 / 3, recall: 1 },
    ]);
    expect(rocCurve(u8(1, 1), f64(1, 2)).points).toEqual([]);
    expect(prCurve(u8(0, 0), f64(1, 2)).points).toEqual([]);
  });

  it('downsample to at most maxPoints points of the full curve, keeping both ends', () => {
    const r = mulberry32(9);
    const n = 20_000;
    const lab = Uint8Array.from({ length: n }, () => (r() < 0.05 ? 1 : 0));
    const sc = Float64Array.from(lab, (y) => r() + y * 0.8);
    const fullRoc = rocCurve(lab, sc, 1e9).points;
    const fullPr = prCurve(lab, sc, 1e9).points;
    expect(fullRoc.length).toBe(n + 1);
    for (const max of [2, 3, 50, 201]) {
      const roc = rocCurve(lab, sc, max).points;
      const pr = prCurve(lab, sc, max).points;
      expect(roc.length).toBeLessThanOrEqual(max);
      expect(pr.length).toBeLessThanOrEqual(max);
      expect(roc[0]).toEqual(fullRoc[0]);
      expect(roc.at(-1)).toEqual(fullRoc.at(-1));
      expect(pr.at(-1)).toEqual(fullPr.at(-1));
      const inFull = new Set(fullRoc.map((p) => p.threshold));
      for (const p of roc) expect(inFull.has(p.threshold)).toBe(true);
      for (let k = 1; k < roc.length; k++) {
        expect(roc[k]!.fpr).toBeGreaterThanOrEqual(roc[k - 1]!.fpr);
        expect(roc[k]!.tpr).toBeGreaterThanOrEqual(roc[k - 1]!.tpr);
      }
    }
    // Enough points to be useful: a 201-point ROC keeps well over 100.
    expect(rocCurve(lab, sc, 201).points.length).toBeGreaterThan(150);
  });
});

describe('eventMetrics', () => {
  const M = 60_000;
  // Episodes and alerts on a 1-minute sampling grid (times in minutes).
  const episodes: EpisodeSpan[] = [
    { episodeId: 1, hostId: 'h1', type: 'spike', startTs: 10 * M, endTs: 15 * M },
    { episodeId: 2, hostId: 'h1', type: 'drift', startTs: 30 * M, endTs: 40 * M },
    { episodeId: 3, hostId: 'h2', type: 'spike', startTs: 10 * M, endTs: 12 * M },
    { episodeId: 4, hostId: 'h3', type: 'stuck', startTs: 0, endTs: 5 * M },
  ];
  const alerts: AlertSpan[] = [
    { hostId: 'h1', openedAt: 12 * M, closedAt: 20 * M }, // finds 1 after 2 records
    { hostId: 'h1', openedAt: 25 * M, closedAt: 32 * M }, // open when 2 starts: 0 records
    { hostId: 'h1', openedAt: 38 * M, closedAt: null }, // a second alert within 2
    { hostId: 'h2', openedAt: 5 * M, closedAt: 10 * M }, // closes as 3 starts: false alert
    { hostId: 'h2', openedAt: 50 * M, closedAt: 55 * M, suppressed: true }, // false alert
  ];

  it('rejects malformed input, naming the field', () => {
    expect(() => eventMetrics({ episodes: [{ ...episodes[0]!, endTs: 0 }], alerts: [] })).toThrow(
      /episodes\[0\] must have finite startTs ≤ endTs; got startTs=600000 endTs=0/,
    );
    expect(() => eventMetrics({ episodes: [], alerts: [{ hostId: 'h', openedAt: 5, closedAt: 4 }] })).toThrow(
      /alerts\[0\] must have a finite openedAt and closedAt null or ≥ openedAt/,
    );
    expect(() => eventMetrics({ episodes: [], alerts: [], samplingIntervalMs: 0 })).toThrow(
      new RangeError('samplingIntervalMs must be a finite number > 0; got 0'),
    );
    expect(() => eventMetrics({ episodes: [], alerts: [], hostCount: 1.5 })).toThrow(
      new RangeError('hostCount must be an integer ≥ 1; got 1.5'),
    );
  });

  it('computes a hand-checked fixture', () => {
    const m = eventMetrics({
      episodes,
      alerts,
      samplingIntervalMs: M,
      hostCount: 3,
      durationMs: 86_400_000,
    });
    expect(m.perEpisode.map((d) => [d.episodeId, d.detected, d.timeToDetectRecords, d.alerts])).toEqual([
      [1, true, 2, 1],
      [2, true, 0, 2],
      [3, false, null, 0],
      [4, false, null, 0],
    ]);
    expect(m.perEpisode[0]!.timeToDetectMs).toBe(2 * M);
    expect(m.overall).toEqual({
      episodes: 4,
      detected: 2,
      recall: 0.5,
      meanTimeToDetectRecords: 1,
      medianTimeToDetectRecords: 1,
      meanTimeToDetectMs: M,
    });
    expect(m.byType).toEqual({
      drift: {
        episodes: 1,
        detected: 1,
        recall: 1,
        meanTimeToDetectRecords: 0,
        medianTimeToDetectRecords: 0,
        meanTimeToDetectMs: 0,
      },
      spike: {
        episodes: 2,
        detected: 1,
        recall: 0.5,
        meanTimeToDetectRecords: 2,
        medianTimeToDetectRecords: 2,
        meanTimeToDetectMs: 2 * M,
      },
      stuck: {
        episodes: 1,
        detected: 0,
        recall: 0,
        meanTimeToDetectRecords: null,
        medianTimeToDetectRecords: null,
        meanTimeToDetectMs: null,
      },
    });
    // Alerts per detected episode: (1 + 2) / 2; false alerts: both of h2's, over 3 host-days.
    expect(m.alerts).toBe(5);
    expect(m.alertsPerEpisode).toBe(1.5);
    expect(m.falseAlerts).toBe(2);
    expect(m.falseAlertsPerHostDay).toBeCloseTo(2 / 3, 15);
  });

  it('counts records with the helper, leaves suppressed alerts out on request, and nulls undefined figures', () => {
    // h1 lost its record at minute 11: only minute 10 lies in [10, 12).
    const present = (ts: number) => ts !== 11 * M;
    const m = eventMetrics({
      episodes,
      alerts,
      includeSuppressed: false,
      recordsBetween: (hostId, from, to) => {
        let n = 0;
        for (let t = from; t < to; t += M) if (hostId !== 'h1' || present(t)) n++;
        return n;
      },
    });
    expect(m.perEpisode[0]!.timeToDetectRecords).toBe(1);
    expect(m.alerts).toBe(4);
    expect(m.falseAlerts).toBe(1);
    expect(m.falseAlertsPerHostDay).toBeNull();
    // Without a helper or interval, times in records are null (ms are still given).
    const bare = eventMetrics({ episodes, alerts });
    expect(bare.perEpisode[0]).toMatchObject({ timeToDetectMs: 2 * M, timeToDetectRecords: null });
    expect(bare.overall.meanTimeToDetectRecords).toBeNull();
    const empty = eventMetrics({ episodes: [], alerts: [] });
    expect(empty.overall.recall).toBeNull();
    expect(empty.alertsPerEpisode).toBeNull();
  });
});
