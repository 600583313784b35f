/**
 * The native PCA against the independent pure-TypeScript reference (test/helpers/reference-pca.ts):
 * eigenvalues, subspace, SPE, T², robust statistics and the per-record outputs on random matrices
 * of several shapes; chunked fits against the one-chunk fit; sync against async.
 */
import { describe, expect, it } from 'vitest';
import {
  allocateScoreOutput,
  fitPca,
  fitPcaAsync,
  PcaAccumulator,
  robustStats,
  scoreBatch,
  type Matrix,
} from '../../src/index.js';
import {
  referenceFit,
  referenceRobust,
  referenceScore,
  type ReferenceScoringModel,
} from '../helpers/reference-pca.js';

const TOL = 1e-8;

/** xorshift32 uniforms; normals by Box–Muller. */
function rng(seed: number): { u: () => number; n: () => number } {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  return { u, n: () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()) };
}

/** rows × d from `latent` factors with distinct spreads plus small noise and per-column offsets. */
function randomMatrix(rows: number, d: number, latent: number, seed: number): Matrix {
  const { n, u } = rng(seed);
  const load = Array.from({ length: latent }, () => Array.from({ length: d }, () => n()));
  const offset = Array.from({ length: d }, () => 100 * u());
  const spread = Array.from({ length: d }, () => 0.5 + 3 * u());
  const data = new Float64Array(rows * d);
  for (let i = 0; i < rows; i++) {
    const f = Array.from({ length: latent }, (_, c) => n() * (latent - c));
    for (let j = 0; j < d; j++) {
      let v = offset[j]! + 0.1 * n();
      for (let c = 0; c < latent; c++) v += load[c]![j]! * f[c]!;
      data[i * d + j] = v * spread[j]!;
    }
  }
  return { rows, cols: d, data };
}

function relClose(a: number, b: number, scale: number, what: string): void {
  if (!(Math.abs(a - b) <= TOL * Math.max(Math.abs(b), scale))) {
    throw new Error(`${what}: native ${a}, reference ${b}`);
  }
}

const SHAPES: [number, number, number, number][] = [
  // rows, d, latent factors, k
  [500, 8, 3, 3],
  [200, 3, 2, 2],
  [1000, 12, 4, 5],
  [50, 2, 1, 1],
  [3000, 5, 2, 2],
];

describe('native PCA against the TypeScript reference', () => {
  for (const [rows, d, latent, k] of SHAPES) {
    it(`${rows} × ${d}, k = ${k}: eigenvalues, subspace, robust statistics and scores agree`, () => {
      const m = randomMatrix(rows, d, latent, rows * 31 + d);
      const model = fitPca(m, { nComponents: k });
      const ref = referenceFit(m, k);
      expect(model.nComponents).toBe(k);

      // Standardisation and eigenvalues (all d), relative to the largest.
      const lam1 = ref.eigenvalues[0]!;
      model.mean.forEach((v, j) => relClose(v, ref.mean[j]!, 1, `mean[${j}]`));
      model.scale.forEach((v, j) => relClose(v, ref.scale[j]!, 1, `scale[${j}]`));
      model.eigenvalues.forEach((v, i) => relClose(v, ref.eigenvalues[i]!, lam1, `eigenvalue ${i}`));
      model.explainedVarianceRatio.forEach((v, i) =>
        relClose(v, ref.explainedVarianceRatio[i]!, 1, `explained variance ratio ${i}`),
      );

      // Subspace: the projectors P Pᵀ agree, and each component (sign rule applied) matches.
      const comps = model.components;
      for (let a = 0; a < d; a++) {
        for (let b = 0; b < d; b++) {
          let pn = 0;
          let pr = 0;
          for (let c = 0; c < k; c++) {
            pn += comps[c * d + a]! * comps[c * d + b]!;
            pr += ref.components[c]![a]! * ref.components[c]![b]!;
          }
          relClose(pn, pr, 1, `projector (${a}, ${b})`);
        }
      }
      for (let c = 0; c < k; c++) {
        for (let j = 0; j < d; j++) relClose(comps[c * d + j]!, ref.components[c]![j]!, 1, `component ${c}[${j}]`);
      }

      // Robust statistics are exact order statistics.
      const rr = referenceRobust(m);
      const rs = robustStats(m);
      expect(Array.from(rs.median)).toEqual(Array.from(rr.median));
      expect(Array.from(rs.mad)).toEqual(Array.from(rr.mad));
      rs.meanAbsDevFromMedian.forEach((v, j) => relClose(v, rr.meanAbsDevFromMedian[j]!, 1e-300, `mean abs dev ${j}`));
      model.zScale.forEach((v, j) => relClose(v, rr.zScale[j]!, 1e-300, `z scale ${j}`));

      // Per-record scores on fresh records from the same process plus a few far-off ones.
      const probe = randomMatrix(200, d, latent, rows * 7 + d + 1);
      for (let i = 0; i < 10; i++) probe.data[i * 17 * d + (i % d)]! += 40 * model.scale[i % d]!;
      const out = scoreBatch(model, probe, { contributions: true });
      const refModel: ReferenceScoringModel = {
        mean: ref.mean,
        scale: ref.scale,
        components: ref.components,
        eigenvalues: ref.eigenvalues,
        median: rr.median,
        zScale: rr.zScale,
        speLimit: model.speLimit,
        zLimit: model.zLimit,
      };
      let flagged = 0;
      for (let i = 0; i < probe.rows; i++) {
        const r = referenceScore(refModel, probe.data.subarray(i * d, (i + 1) * d));
        const sumSq = r.contributions.reduce((s, v) => s + v, 0);
        relClose(out.spe[i]!, r.spe, 1e-6 * d, `SPE ${i}`);
        relClose(out.t2[i]!, r.t2, 1, `T² ${i}`);
        relClose(out.zMax[i]!, r.zMax, 1, `z_max ${i}`);
        relClose(out.fused[i]!, r.fused, 1e-6, `fused ${i}`);
        for (let j = 0; j < d; j++) relClose(out.contributions![i * d + j]!, r.contributions[j]!, 1e-6, `contribution ${i},${j}`);
        relClose(sumSq, out.spe[i]!, 1e-6 * d, `contributions sum ${i}`);
        // The top metric is an argmax: compare where the winner is clear of the runner-up and the
        // deciding term (SPE or z) is clear of the other.
        const x = probe.data.subarray(i * d, (i + 1) * d);
        const speTerm = r.spe / model.speLimit;
        const zTerm = r.zMax / model.zLimit;
        const values = speTerm > zTerm ? Array.from(r.contributions) : Array.from(x, (v, j) => Math.abs((v - rr.median[j]!) / rr.zScale[j]!));
        const sorted = [...values].sort((a, b) => b - a);
        const clear = sorted[0]! - (sorted[1] ?? 0) > 1e-6 * sorted[0]! && Math.abs(speTerm - zTerm) > 1e-6 * Math.max(speTerm, zTerm);
        if (clear) expect(out.topMetric[i], `top metric ${i}`).toBe(r.topMetric);
        expect(out.anomalous[i]).toBe(out.fused[i]! >= 1 ? 1 : 0);
        flagged += out.anomalous[i]!;
      }
      expect(out.invalidCount).toBe(0);
      expect(flagged).toBeGreaterThanOrEqual(10);
    });
  }

  it('chooses k by the variance rule as the reference does', () => {
    const m = randomMatrix(800, 8, 3, 99);
    const model = fitPca(m);
    const ref = referenceFit(m);
    expect(model.nComponents).toBe(ref.components.length);
    let cum = 0;
    for (let i = 0; i < model.nComponents; i++) cum += model.explainedVarianceRatio[i]!;
    expect(cum).toBeGreaterThanOrEqual(0.95);
    expect(cum - model.explainedVarianceRatio[model.nComponents - 1]!).toBeLessThan(0.95);
  });
});

describe('chunked, async and single-record paths', () => {
  const m = randomMatrix(5000, 8, 3, 7);
  const base = fitPca(m, { nComponents: 3, trainedAt: '2024-01-01T00:00:00Z' });

  it.each([1, 7, 100, 1023, 1024, 1025, 4999, 5000])('chunks of %i rows give the one-chunk model exactly', (size) => {
    const acc = new PcaAccumulator(8);
    for (let i = 0; i < m.rows; i += size) {
      const rows = Math.min(size, m.rows - i);
      acc.push({ rows, cols: 8, data: m.data.subarray(i * 8, (i + rows) * 8) });
    }
    expect(acc.rows).toBe(m.rows);
    const model = acc.finish(robustStats(m), { nComponents: 3 }, { trainedAt: '2024-01-01T00:00:00Z' });
    expect(model.toJSON()).toEqual(base.toJSON());
  });

  it('fitPcaAsync gives the same model as fitPca', async () => {
    const model = await fitPcaAsync(m, { nComponents: 3, trainedAt: '2024-01-01T00:00:00Z' });
    expect(model.toJSON()).toEqual(base.toJSON());
  });

  it('a record scores bit for bit the same alone, in any batch, and into reused buffers', () => {
    const all = scoreBatch(base, m, { contributions: true });
    const one = allocateScoreOutput(1, 8, true);
    for (const i of [0, 1, 31, 32, 33, 4999]) {
      scoreBatch(base, { rows: 1, cols: 8, data: m.data.subarray(i * 8, i * 8 + 8) }, { out: one, contributions: true });
      expect(one.fused[0]).toBe(all.fused[i]);
      expect(one.spe[0]).toBe(all.spe[i]);
      expect(one.t2[0]).toBe(all.t2[i]);
      expect(one.zMax[0]).toBe(all.zMax[i]);
      expect(one.topMetric[0]).toBe(all.topMetric[i]);
      expect(Array.from(one.contributions!)).toEqual(Array.from(all.contributions!.subarray(i * 8, i * 8 + 8)));
    }
    const reused = allocateScoreOutput(5000, 8);
    for (const size of [3, 40, 1000]) {
      for (let i = 0; i + size <= 3000; i += size) {
        const out = scoreBatch(base, { rows: size, cols: 8, data: m.data.subarray(i * 8, (i + size) * 8) }, { out: reused });
        expect(out).toBe(reused);
        expect(out.rows).toBe(size);
        expect(Array.from(out.fused.subarray(0, size))).toEqual(Array.from(all.fused.subarray(i, i + size)));
      }
    }
  });
});
