/**
 * The one place that loads the native addon (build/Release/tads.node). Every other module goes
 * through {@link native}; a missing or broken build fails here with one message listing what was
 * tried and how to fix it. `TADS_NATIVE_ADDON`, when set, names the one .node file to load instead
 * (the sanitizer run, scripts/sanitize.sh, points it at its own build).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Fully defaulted fit options as the addon reads them. */
export interface NativeFitOptions {
  variance: number;
  /** 0: choose k by the variance rule. */
  nComponents: number;
  alpha: number;
  zLimit: number;
  speRule: 'jackson_mudholkar' | 'empirical';
  speQuantile: number;
}

/** How the addon set the SPE limit, with the figures it used. */
export interface NativeSpeInfo {
  method: 'jackson_mudholkar' | 'box' | 'empirical' | 'residual_floor' | 'none';
  theta1: number;
  theta2: number;
  theta3: number;
  h0: number;
  zAlpha: number;
  g: number;
  h: number;
  chi2Quantile: number;
  quantile: number;
}

/** A fitted model as the addon returns it (components row-major k × d). */
export interface NativeFitResult {
  nFeatures: number;
  nComponents: number;
  nSamples: number;
  mean: Float64Array;
  scale: Float64Array;
  components: Float64Array;
  eigenvalues: Float64Array;
  explainedVarianceRatio: Float64Array;
  median: Float64Array;
  mad: Float64Array;
  zScale: Float64Array;
  alpha: number;
  speLimit: number;
  t2Limit: number;
  zLimit: number;
  fQuantile: number;
  spe: NativeSpeInfo;
}

/** Model constants the native scorer is built from. */
export interface NativeScorerInit {
  nFeatures: number;
  nComponents: number;
  mean: Float64Array;
  scale: Float64Array;
  components: Float64Array;
  eigenvalues: Float64Array;
  median: Float64Array;
  zScale: Float64Array;
  speLimit: number;
  zLimit: number;
}

export interface NativeScorer {
  /** Scores rows × d values into the output arrays; returns the number of invalid records. */
  score(
    data: Float64Array,
    rows: number,
    fused: Float64Array,
    spe: Float64Array,
    t2: Float64Array,
    zMax: Float64Array,
    topMetric: Int32Array,
    anomalous: Uint8Array,
    contributions: Float64Array | null,
  ): number;
}

export interface NativeAccumulator {
  push(data: Float64Array, rows: number, cols: number): void;
  rows(): number;
  finish(
    median: Float64Array,
    mad: Float64Array,
    meanAbsDev: Float64Array,
    options: NativeFitOptions,
  ): NativeFitResult;
}

/** The addon's exports (native/binding/addon.cc). Names starting with `_` are for tests. */
export interface NativeBinding {
  fit(data: Float64Array, rows: number, cols: number, options: NativeFitOptions): NativeFitResult;
  fitAsync(data: Float64Array, rows: number, cols: number, options: NativeFitOptions): Promise<NativeFitResult>;
  robustStats(
    data: Float64Array,
    rows: number,
    cols: number,
  ): { median: Float64Array; mad: Float64Array; meanAbsDev: Float64Array };
  Accumulator: new (nFeatures: number) => NativeAccumulator;
  Scorer: new (model: NativeScorerInit) => NativeScorer;
  /** Most metrics per row (d) the core accepts. */
  maxFeatures: number;
  _fUpperQuantile(alpha: number, d1: number, d2: number): number;
  _chi2UpperQuantile(alpha: number, h: number): number;
  _normalUpperQuantile(alpha: number): number;
  _incBeta(x: number, a: number, b: number): [number, number];
  _incGamma(a: number, x: number): [number, number];
}

function load(): NativeBinding {
  const here = dirname(fileURLToPath(import.meta.url));
  // From src/native (sources) or dist/src/native (compiled): the package root is two or three up.
  const override = process.env.TADS_NATIVE_ADDON;
  const candidates = override
    ? [resolve(override)]
    : [resolve(here, '../../build/Release/tads.node'), resolve(here, '../../../build/Release/tads.node')];
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const path of candidates) {
    if (!existsSync(path)) {
      failures.push(`${path}: not found`);
      continue;
    }
    try {
      return require(path) as NativeBinding;
    } catch (err) {
      failures.push(`${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  throw new Error(
    [
      'Could not load the TADS native addon (tads.node).',
      ...failures.map((f) => `  - ${f}`),
      'Build it with `npm run build:native` (needs cmake and a C++20 compiler), or reinstall the package.',
    ].join('\n'),
  );
}

/** The loaded addon. */
export const native: NativeBinding = load();
