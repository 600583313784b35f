/**
 * An independent reference for TADS's PCA: a small, deliberately plain TypeScript implementation
 * of the maths pinned in DESIGN.md (two-pass moments, cyclic Jacobi eigenvalue iteration, the sign
 * rule, robust statistics and per-record scoring). It shares no code with the native core and
 * favours clarity over speed; tests compare the two.
 */
import type { Matrix } from '../../src/core/types.js';

/** What {@link referenceFit} learns from a matrix. */
export interface ReferenceFit {
  /** Column means, length d. */
  mean: Float64Array;
  /** Population standard deviations (divisor n), 1 where a column is constant; length d. */
  scale: Float64Array;
  /** All d eigenvalues of the standardised covariance (divisor n − 1), descending. */
  eigenvalues: Float64Array;
  /** k principal axes, each of length d, with the entry of largest magnitude positive. */
  components: Float64Array[];
  /** eigenvalue / sum of eigenvalues, all d, descending. */
  explainedVarianceRatio: Float64Array;
}

/** Robust per-metric statistics, as DESIGN.md defines them. */
export interface ReferenceRobust {
  median: Float64Array;
  mad: Float64Array;
  meanAbsDevFromMedian: Float64Array;
  /** 1.4826·MAD, else 1.2533·mean absolute deviation from the median, else 1. */
  zScale: Float64Array;
}

/** Per-record scores of {@link referenceScore}. */
export interface ReferenceScore {
  spe: number;
  t2: number;
  zMax: number;
  fused: number;
  topMetric: number;
  contributions: Float64Array;
}

/** Model constants {@link referenceScore} needs beyond the fit. */
export interface ReferenceScoringModel {
  mean: Float64Array;
  scale: Float64Array;
  components: Float64Array[];
  /** At least the first k eigenvalues. */
  eigenvalues: Float64Array;
  median: Float64Array;
  zScale: Float64Array;
  speLimit: number;
  zLimit: number;
}

function column(m: Matrix, j: number): Float64Array {
  const out = new Float64Array(m.rows);
  for (let i = 0; i < m.rows; i++) out[i] = m.data[i * m.cols + j]!;
  return out;
}

/** The median of a list (mean of the two middle values for an even count), by full sort. */
export function referenceMedian(values: Float64Array): number {
  const s = Float64Array.from(values).sort();
  const n = s.length;
  if (n === 0) throw new RangeError('referenceMedian: values must not be empty');
  const hi = s[n >> 1]!;
  if (n % 2 === 1) return hi;
  const lo = s[(n >> 1) - 1]!;
  return lo + (hi - lo) / 2;
}

/** Per-column median, MAD, mean absolute deviation from the median and the z scale in use. */
export function referenceRobust(m: Matrix): ReferenceRobust {
  const d = m.cols;
  const median = new Float64Array(d);
  const mad = new Float64Array(d);
  const meanAbsDevFromMedian = new Float64Array(d);
  const zScale = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const col = column(m, j);
    const med = referenceMedian(col);
    const dev = col.map((v) => Math.abs(v - med));
    median[j] = med;
    mad[j] = referenceMedian(dev);
    let sum = 0;
    for (const v of dev) sum += v;
    meanAbsDevFromMedian[j] = sum / m.rows;
    zScale[j] =
      mad[j]! > 0 ? 1.4826 * mad[j]! : meanAbsDevFromMedian[j]! > 0 ? 1.2533 * meanAbsDevFromMedian[j]! : 1;
  }
  return { median, mad, meanAbsDevFromMedian, zScale };
}

/**
 * Eigen-decomposition of a symmetric matrix (row-major n×n) by cyclic Jacobi rotations.
 * Returns eigenvalues descending and the matching unit eigenvectors as rows.
 */
export function jacobiEigen(sym: Float64Array, n: number): { values: Float64Array; vectors: Float64Array[] } {
  const a = Float64Array.from(sym);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let p = 0; p < n; p++) {
      diag += a[p * n + p]! * a[p * n + p]!;
      for (let q = p + 1; q < n; q++) off += a[p * n + q]! * a[p * n + q]!;
    }
    if (off <= 1e-34 * diag || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const app = a[p * n + p]!;
        const aqq = a[q * n + q]!;
        // Rotation angle that zeroes a[p][q] (the smaller root for stability).
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < n; r++) {
          const arp = a[r * n + p]!;
          const arq = a[r * n + q]!;
          a[r * n + p] = c * arp - s * arq;
          a[r * n + q] = s * arp + c * arq;
        }
        for (let r = 0; r < n; r++) {
          const apr = a[p * n + r]!;
          const aqr = a[q * n + r]!;
          a[p * n + r] = c * apr - s * aqr;
          a[q * n + r] = s * apr + c * aqr;
        }
        for (let r = 0; r < n; r++) {
          const vrp = v[r * n + p]!;
          const vrq = v[r * n + q]!;
          v[r * n + p] = c * vrp - s * vrq;
          v[r * n + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y]! - a[x * n + x]!);
  const values = Float64Array.from(order, (i) => a[i * n + i]!);
  const vectors = order.map((i) => Float64Array.from({ length: n }, (_, r) => v[r * n + i]!));
  return { values, vectors };
}

/**
 * The reference fit: mean and population standard deviation, covariance of the standardised data
 * with divisor n − 1 (two-pass), Jacobi eigen-decomposition, sign rule. k defaults to the variance
 * rule at 0.95 with DESIGN.md's caps (no eigenvalue ≤ 1e-12·λ₁, at most d − 1 when d ≥ 2).
 */
export function referenceFit(m: Matrix, k?: number): ReferenceFit {
  const { rows: n, cols: d } = m;
  const mean = new Float64Array(d);
  const scale = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const col = column(m, j);
    let s = 0;
    for (const v of col) s += v;
    const mu = s / n;
    let ss = 0;
    for (const v of col) ss += (v - mu) * (v - mu);
    mean[j] = mu;
    const sd = Math.sqrt(ss / n);
    scale[j] = sd === 0 ? 1 : sd;
  }
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < d; p++) {
      const zp = (m.data[i * d + p]! - mean[p]!) / scale[p]!;
      for (let q = 0; q < d; q++) {
        cov[p * d + q] = cov[p * d + q]! + zp * ((m.data[i * d + q]! - mean[q]!) / scale[q]!);
      }
    }
  }
  for (let e = 0; e < d * d; e++) cov[e] = cov[e]! / (n - 1);
  const { values, vectors } = jacobiEigen(cov, d);
  const eigenvalues = values.map((v) => Math.max(v, 0));
  const total = eigenvalues.reduce((s, v) => s + v, 0);
  const explainedVarianceRatio = eigenvalues.map((v) => v / total);
  let nComp = k;
  if (nComp === undefined) {
    let cum = 0;
    nComp = d;
    for (let i = 0; i < d; i++) {
      cum += explainedVarianceRatio[i]!;
      if (cum >= 0.95) {
        nComp = i + 1;
        break;
      }
    }
    let rank = 0;
    for (const v of eigenvalues) if (v > 1e-12 * eigenvalues[0]!) rank++;
    nComp = Math.min(nComp, Math.max(rank, 1), Math.max(1, d - 1));
  }
  const components = vectors.slice(0, nComp).map((vec) => {
    let best = 0;
    for (let j = 1; j < d; j++) if (Math.abs(vec[j]!) > Math.abs(vec[best]!)) best = j;
    return vec[best]! < 0 ? vec.map((x) => -x) : Float64Array.from(vec);
  });
  return { mean, scale, eigenvalues, components, explainedVarianceRatio };
}

/** Scores one record (length d) by the pinned formulas; invalid (non-finite) records give NaN and −1. */
export function referenceScore(model: ReferenceScoringModel, x: ArrayLike<number>): ReferenceScore {
  const d = model.mean.length;
  const k = model.components.length;
  const contributions = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    if (!Number.isFinite(x[j]!)) {
      contributions.fill(NaN);
      return { spe: NaN, t2: NaN, zMax: NaN, fused: NaN, topMetric: -1, contributions };
    }
  }
  const xs = Float64Array.from({ length: d }, (_, j) => (x[j]! - model.mean[j]!) / model.scale[j]!);
  const t = model.components.map((p) => p.reduce((s, pj, j) => s + pj * xs[j]!, 0));
  let spe = 0;
  for (let j = 0; j < d; j++) {
    let xhat = 0;
    for (let c = 0; c < k; c++) xhat += model.components[c]![j]! * t[c]!;
    contributions[j] = (xs[j]! - xhat) ** 2;
    spe += contributions[j]!;
  }
  if (d === 1) {
    spe = 0;
    contributions[0] = 0;
  }
  const t2 = t.reduce((s, tc, c) => s + (tc * tc) / model.eigenvalues[c]!, 0);
  let zMax = 0;
  let zArg = 0;
  for (let j = 0; j < d; j++) {
    const z = Math.abs((x[j]! - model.median[j]!) / model.zScale[j]!);
    if (z > zMax) {
      zMax = z;
      zArg = j;
    }
  }
  const speTerm = d === 1 ? 0 : spe / model.speLimit;
  const zTerm = zMax / model.zLimit;
  let topMetric = zArg;
  if (speTerm > zTerm) {
    topMetric = 0;
    for (let j = 1; j < d; j++) if (contributions[j]! > contributions[topMetric]!) topMetric = j;
  }
  return { spe, t2, zMax, fused: Math.max(speTerm, zTerm), topMetric, contributions };
}

/**
 * The Jackson–Mudholkar Q limit from the discarded eigenvalues, given the standard normal upper
 * quantile zAlpha = Φ⁻¹(1 − α). Returns null where h₀ ≤ 0 (DESIGN.md then uses Box's form).
 */
export function referenceJacksonMudholkar(discarded: ArrayLike<number>, zAlpha: number): number | null {
  let t1 = 0;
  let t2 = 0;
  let t3 = 0;
  for (let i = 0; i < discarded.length; i++) {
    const l = discarded[i]!;
    t1 += l;
    t2 += l * l;
    t3 += l * l * l;
  }
  const h0 = 1 - (2 * t1 * t3) / (3 * t2 * t2);
  if (h0 <= 0) return null;
  const inner = (zAlpha * Math.sqrt(2 * t2 * h0 * h0)) / t1 + 1 + (t2 * h0 * (h0 - 1)) / (t1 * t1);
  return t1 * inner ** (1 / h0);
}
