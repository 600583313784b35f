/**
 * Control limits: the native F, χ² and normal quantiles against independent computations written
 * here by different methods (finite binomial and Poisson sums for integer parameters, a power
 * series with a Lanczos log-gamma, bisection on those CDFs), and the limits a fit records.
 */
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native/binding.js';
import { fitPca, type Matrix } from '../../src/index.js';
import { referenceFit, referenceJacksonMudholkar } from '../helpers/reference-pca.js';

/** Φ⁻¹(0.999), tabulated to 17 digits. */
const Z_0999 = 3.0902323061678132;

/** ln n! by summation (exact to rounding for the sizes used). */
function logFactorial(n: number): number {
  let s = 0;
  for (let i = 2; i <= n; i++) s += Math.log(i);
  return s;
}

/**
 * P(F > f) for F ~ F(d1, d2) with d1 even: 1 − I_x(a, b) = P(Binomial(a + b − 1, x) < a), a = d1/2,
 * b = d2/2, x = d1 f / (d1 f + d2), a finite sum of a terms (b may be any positive number when
 * written with gamma functions; here d2 is even so every term is a binomial probability).
 */
function fUpperTail(f: number, d1: number, d2: number): number {
  const a = d1 / 2;
  const b = d2 / 2;
  const n = a + b - 1;
  const x = (d1 * f) / (d1 * f + d2);
  const y = d2 / (d1 * f + d2);
  const lnN = logFactorial(n);
  let sum = 0;
  for (let j = 0; j < a; j++) {
    sum += Math.exp(lnN - logFactorial(j) - logFactorial(n - j) + j * Math.log(x) + (n - j) * Math.log(y));
  }
  return sum;
}

/** P(X > c) for X ~ χ²(h), h even: the Poisson sum e^{−c/2} Σ_{i < h/2} (c/2)^i / i!. */
function chi2UpperTailEven(c: number, h: number): number {
  let term = Math.exp(-c / 2);
  let sum = term;
  for (let i = 1; i < h / 2; i++) {
    term *= c / 2 / i;
    sum += term;
  }
  return sum;
}

/** ln Γ(z), Lanczos (g = 7, 9 terms), z > 0.5. */
function lnGamma(z: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const zz = z - 1;
  let x = c[0]!;
  for (let i = 1; i < 9; i++) x += c[i]! / (zz + i);
  const t = zz + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (zz + 0.5) * Math.log(t) - t + Math.log(x);
}

/** P(X > c) for X ~ χ²(h), any h: 1 − the lower power series of the regularized gamma. */
function chi2UpperTailSeries(c: number, h: number): number {
  const a = h / 2;
  const x = c / 2;
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < 10000 && term > 1e-18 * sum; n++) {
    term *= x / (a + n);
    sum += term;
  }
  return 1 - Math.exp(a * Math.log(x) - x - lnGamma(a)) * sum;
}

/** The point where a decreasing tail function equals alpha, by bisection to the last bit. */
function bisect(tail: (v: number) => number, alpha: number, lo: number, hi: number): number {
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    if (tail(mid) > alpha) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

describe('quantiles against independent computations', () => {
  it.each([
    [2, 10],
    [2, 998],
    [4, 100],
    [6, 1000],
    [4, 5000],
    [10, 200000],
  ])('F(0.999; %i, %i)', (d1, d2) => {
    const want = bisect((f) => fUpperTail(f, d1, d2), 0.001, 0, 1e4);
    const got = native._fUpperQuantile(0.001, d1, d2);
    expect(Math.abs(got - want) / want).toBeLessThan(1e-11);
  });

  it('F(0.999; 3, 100) matches the tabulated 5.86 and lies between its even-d1 neighbours', () => {
    const f3 = native._fUpperQuantile(0.001, 3, 100);
    expect(f3).toBeCloseTo(5.86, 2);
    expect(f3).toBeLessThan(native._fUpperQuantile(0.001, 2, 100));
    expect(f3).toBeGreaterThan(native._fUpperQuantile(0.001, 4, 100));
  });

  it.each([2, 4, 10, 30])('χ²(0.999; %i) against the Poisson sum', (h) => {
    const want = bisect((c) => chi2UpperTailEven(c, h), 0.001, 0, 1000);
    expect(Math.abs(native._chi2UpperQuantile(0.001, h) - want) / want).toBeLessThan(1e-12);
  });

  it.each([0.7, 1.5, 3.3, 12.25])('χ²(0.999; %f) against the power series', (h) => {
    const want = bisect((c) => chi2UpperTailSeries(c, h), 0.001, 0, 1000);
    expect(Math.abs(native._chi2UpperQuantile(0.001, h) - want) / want).toBeLessThan(1e-10);
  });

  it('the normal quantile matches the tabulated Φ⁻¹(0.999), and χ²₁ is its square', () => {
    expect(Math.abs(native._normalUpperQuantile(0.001) - Z_0999)).toBeLessThan(1e-14);
    expect(Math.abs(native._chi2UpperQuantile(0.002, 1) - Z_0999 ** 2) / Z_0999 ** 2).toBeLessThan(1e-13);
  });

  it('both incomplete-function tails are returned accurately', () => {
    const [lower, upper] = native._incBeta(0.3, 2.5, 1);
    expect(Math.abs(lower - 0.3 ** 2.5) / 0.3 ** 2.5).toBeLessThan(1e-13);
    expect(lower + upper).toBeCloseTo(1, 15);
    const [, q] = native._incGamma(1, 30);
    expect(Math.abs(q - Math.exp(-30)) / Math.exp(-30)).toBeLessThan(1e-12);
  });
});

function latentMatrix(rows: number, seed: number): Matrix {
  let s = seed;
  const u = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s / 4294967296);
  const data = new Float64Array(rows * 6);
  for (let i = 0; i < rows; i++) {
    const a = u() - 0.5;
    const b = u() - 0.5;
    for (let j = 0; j < 6; j++) data[i * 6 + j] = (j + 1) * a + (j % 2 ? b : -b) + 0.05 * (u() - 0.5) * (j + 1);
  }
  return { rows, cols: 6, data };
}

describe('limits recorded by a fit', () => {
  const m = latentMatrix(1002, 5);
  const model = fitPca(m, { nComponents: 2 });
  const ref = referenceFit(m, 2);
  const json = model.toJSON();

  it('T² limit: k(n−1)(n+1)/(n(n−k)) F₀.₉₉₉(k, n−k), with F computed independently', () => {
    const n = 1002;
    const k = 2;
    const f = bisect((v) => fUpperTail(v, k, n - k), 0.001, 0, 1e4);
    const want = ((k * (n - 1) * (n + 1)) / (n * (n - k))) * f;
    expect(Math.abs(model.t2Limit - want) / want).toBeLessThan(1e-11);
    expect(json.limits.t2).toEqual({ method: 'f_distribution', alpha: 0.001, f_quantile: json.limits.t2.f_quantile });
  });

  it('SPE limit: Jackson–Mudholkar from the discarded eigenvalues', () => {
    const want = referenceJacksonMudholkar(ref.eigenvalues.subarray(2), Z_0999);
    expect(want).not.toBeNull();
    expect(Math.abs(model.speLimit - want!) / want!).toBeLessThan(1e-8);
    expect(json.limits.spe.method).toBe('jackson_mudholkar');
    expect(json.limits.spe.z_alpha).toBeCloseTo(Z_0999, 14);
  });

  it("Box's approximation where h₀ ≤ 0 (one strong discarded direction among many weak ones)", () => {
    // Standardised spectrum: a retained factor over 20 columns (λ ≈ 20), a discarded one over 10
    // columns (λ ≈ 10) and 11 independent columns (λ ≈ 1 each): 2θ₁θ₃ > 3θ₂², so h₀ < 0.
    const rows = 2000;
    const d = 41;
    const data = new Float64Array(rows * d);
    let s = 11;
    const u = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s / 4294967296 - 0.5);
    for (let i = 0; i < rows; i++) {
      const a = u();
      const b = u();
      for (let j = 0; j < d; j++) {
        data[i * d + j] = j < 20 ? a + 0.01 * u() : j < 30 ? b + 0.01 * u() : u();
      }
    }
    const boxModel = fitPca({ rows, cols: d, data }, { nComponents: 1 });
    const spe = boxModel.toJSON().limits.spe;
    expect(spe.method).toBe('box');
    const r = referenceFit({ rows, cols: d, data }, 1);
    const t = [1, 2, 3].map((p) => Array.from(r.eigenvalues.subarray(1)).reduce((acc, l) => acc + l ** p, 0));
    expect(1 - (2 * t[0]! * t[2]!) / (3 * t[1]! ** 2)).toBeLessThan(0);
    const g = t[1]! / t[0]!;
    const h = t[0]! ** 2 / t[1]!;
    const c = bisect((v) => chi2UpperTailSeries(v, h), 0.001, 0, 1000);
    expect(Math.abs(boxModel.speLimit - g * c) / (g * c)).toBeLessThan(1e-8);
    expect(spe.g).toBeCloseTo(g, 8);
  });

  it('empirical SPE limit: the quantile of the training SPE', () => {
    const emp = fitPca(m, { nComponents: 2, speLimit: { method: 'empirical', quantile: 0.99 } });
    expect(emp.toJSON().limits.spe).toEqual({ method: 'empirical', quantile: 0.99, n: 1002 });
    const again = model.withEmpiricalSpeLimit(
      Float64Array.from({ length: 1002 }, (_, i) => i),
      0.5,
    );
    expect(again.speLimit).toBe(500.5);
    expect(again.toJSON().limits.spe).toEqual({ method: 'empirical', quantile: 0.5, n: 1002 });
  });

  it('z limit: 6 by default, recorded as given when passed', () => {
    expect(model.zLimit).toBe(6);
    expect(json.limits.z).toEqual({ method: 'fixed', given: false });
    const z4 = fitPca(m, { nComponents: 2, zLimit: 4 });
    expect(z4.zLimit).toBe(4);
    expect(z4.toJSON().limits.z).toEqual({ method: 'fixed', given: true });
  });
});
