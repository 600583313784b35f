/**
 * PCA anomaly model: fitting (in memory, off the event loop, or streamed in chunks), the model
 * object with its exact model.json round trip, and batch scoring. The maths runs in the native
 * core; this module validates every input first, hands the addon one fully defaulted object, and
 * turns native errors into TypeError / RangeError / PcaError naming the parameter.
 *
 * @example
 * ```ts
 * const model = fitPca({ rows, cols: 8, data }, { variance: 0.95 });
 * const out = scoreBatch(model, batch);           // out.fused[i] >= 1 ⇔ out.anomalous[i] === 1
 * const again = PcaModel.fromJSON(JSON.parse(JSON.stringify(model)));
 * ```
 */
import { METRICS, type Matrix } from './types.js';
import { checkModelShape, modelJsonSchema, type ModelJson, type SpeLimitInfo } from './model-json.js';
import {
  native,
  type NativeAccumulator,
  type NativeFitOptions,
  type NativeFitResult,
  type NativeScorer,
} from '../native/binding.js';
import { translateNativeError } from '../native/errors.js';
import { describe } from './check.js';

export { PcaError } from '../native/errors.js';
export type { ModelJson, SpeLimitInfo } from './model-json.js';

/** Options of a fit. Every field is optional; defaults are DESIGN.md's. */
export interface FitOptions {
  /** Fraction of standardised variance the components must reach; default 0.95, in (0, 1]. */
  variance?: number;
  /** Number of components, an integer in [1, max(1, d − 1)]; overrides `variance`. */
  nComponents?: number;
  /** Significance level of the SPE and T² limits; default 0.001, in (0, 0.5). */
  alpha?: number;
  /** Limit of the robust z term; default 6, > 0. */
  zLimit?: number;
  /**
   * How the SPE limit is set: the Jackson–Mudholkar Q limit at `alpha` (default), or a quantile of
   * the training rows' SPE. The empirical rule needs the rows, so only {@link fitPca} and
   * {@link fitPcaAsync} accept it; after a streamed fit use {@link PcaModel.withEmpiricalSpeLimit}.
   */
  speLimit?: { method: 'jackson_mudholkar' } | { method: 'empirical'; quantile: number };
}

/** Descriptive fields stored with a model. */
export interface ModelMeta {
  /** Metric names in column order; default METRICS when d = 8, else metric_0, metric_1, …. */
  metrics?: readonly string[];
  /** The training dataset's id; default null. */
  datasetId?: string | null;
  /**
   * Parameters to record; merged over the fit options (recorded in snake_case), the caller's keys
   * winning.
   */
  params?: Record<string, unknown>;
  /** RFC 3339 timestamp; default now. */
  trainedAt?: string;
}

/** Robust per-metric statistics of training data (each of length d). */
export interface RobustStats {
  median: Float64Array;
  /** Median absolute deviation from the median, unscaled. */
  mad: Float64Array;
  /** Mean absolute deviation from the median (the z scale's fallback where MAD is 0). */
  meanAbsDevFromMedian: Float64Array;
}

/** Per-record outputs of {@link scoreBatch}; arrays may be longer than `rows` when reused. */
export interface ScoreOutput {
  /** max(SPE / spe_limit, z_max / z_limit); NaN for an invalid record. */
  fused: Float64Array;
  /** Squared prediction error ‖x̃ − x̂‖² (0 when d = 1). */
  spe: Float64Array;
  /** Hotelling's T² = Σ tᵢ² / λᵢ. */
  t2: Float64Array;
  /** max |zⱼ| of the robust z scores. */
  zMax: Float64Array;
  /** Index of the metric that drives the fused score, −1 for an invalid record. */
  topMetric: Int32Array;
  /** 1 when fused ≥ 1, else 0 (invalid records are 0). */
  anomalous: Uint8Array;
  /** Per-metric SPE contributions (x̃ⱼ − x̂ⱼ)², shape (rows, d) row-major, when requested. */
  contributions?: Float64Array;
  /** Records with a non-finite value in this batch. */
  invalidCount: number;
  /** Records scored in this batch. */
  rows: number;
}

/** Options of {@link scoreBatch}. */
export interface ScoreOptions {
  /** Also compute per-metric contributions; default false. */
  contributions?: boolean;
  /** Output buffers to reuse (each of length ≥ rows; contributions ≥ rows × d). */
  out?: ScoreOutput;
}

// ---------------------------------------------------------------------------------------------
// Validation helpers: each names the parameter, what was expected and what arrived.

/** Most metrics per row (d) a model can have: the native core's limit (10,000). */
const MAX_FEATURES = native.maxFeatures;

function expectNumber(v: unknown, name: string): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number; got ${describe(v)}`);
  if (!Number.isFinite(v)) throw new RangeError(`${name} must be finite; got ${v}`);
  return v;
}

function expectInteger(v: unknown, name: string, lo: number, hi: number): number {
  const n = expectNumber(v, name);
  if (!Number.isInteger(n) || n < lo || n > hi) {
    throw new RangeError(`${name} must be an integer in [${lo}, ${hi}]; got ${n}`);
  }
  return n;
}

function expectObject(v: unknown, name: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new TypeError(`${name} must be an object; got ${describe(v)}`);
  }
  return v as Record<string, unknown>;
}

function rejectUnknownKeys(o: Record<string, unknown>, allowed: readonly string[], name: string): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key) && o[key] !== undefined) {
      throw new TypeError(`${name} has an unknown option '${key}'; expected one of ${allowed.join(', ')}`);
    }
  }
}

/**
 * Checks a matrix argument: integer rows ≥ 0, integer cols in [1, MAX_FEATURES], a Float64Array of
 * rows × cols.
 * @throws TypeError / RangeError naming `name`.
 */
function checkMatrix(m: unknown, name: string): Matrix {
  if (typeof m !== 'object' || m === null)
    throw new TypeError(`${name} must be a matrix { rows, cols, data }; got ${describe(m)}`);
  const { rows, cols, data } = m as Partial<Matrix>;
  if (!(data instanceof Float64Array))
    throw new TypeError(`${name}.data must be a Float64Array; got ${describe(data)}`);
  if (typeof rows !== 'number' || !Number.isInteger(rows) || rows < 0) {
    throw new RangeError(`${name}.rows must be an integer >= 0; got ${describe(rows)}`);
  }
  if (typeof cols !== 'number' || !Number.isInteger(cols) || cols < 1) {
    throw new RangeError(`${name}.cols must be an integer >= 1; got ${describe(cols)}`);
  }
  if (cols > MAX_FEATURES) {
    throw new RangeError(
      `${name}.cols must be at most ${MAX_FEATURES} (the most metrics a model can have); got ${cols}`,
    );
  }
  if (data.length !== rows * cols) {
    throw new RangeError(`${name}.data.length must equal rows × cols = ${rows * cols}; got ${data.length}`);
  }
  return m as Matrix;
}

const FIT_OPTION_KEYS = ['variance', 'nComponents', 'alpha', 'zLimit', 'speLimit'] as const;
const META_KEYS = ['metrics', 'datasetId', 'params', 'trainedAt'] as const;

interface ResolvedFit {
  native: NativeFitOptions;
  /** What the caller asked for, defaults applied, for `params`. */
  record: Record<string, unknown>;
  zLimitGiven: boolean;
}

// Apply defaults and validate; d bounds nComponents.
function resolveFitOptions(options: FitOptions | undefined, d: number, name: string): ResolvedFit {
  const o = options === undefined ? {} : expectObject(options, name);
  const variance = o.variance === undefined ? 0.95 : expectNumber(o.variance, `${name}.variance`);
  if (!(variance > 0 && variance <= 1)) {
    throw new RangeError(`${name}.variance must be in (0, 1]; got ${variance}`);
  }
  const kMax = Math.max(1, d - 1);
  const nComponents =
    o.nComponents === undefined ? 0 : expectInteger(o.nComponents, `${name}.nComponents`, 1, kMax);
  const alpha = o.alpha === undefined ? 0.001 : expectNumber(o.alpha, `${name}.alpha`);
  if (!(alpha > 0 && alpha < 0.5)) throw new RangeError(`${name}.alpha must be in (0, 0.5); got ${alpha}`);
  const zLimit = o.zLimit === undefined ? 6 : expectNumber(o.zLimit, `${name}.zLimit`);
  if (!(zLimit > 0)) throw new RangeError(`${name}.zLimit must be > 0; got ${zLimit}`);
  let speRule: NativeFitOptions['speRule'] = 'jackson_mudholkar';
  let speQuantile = 0;
  if (o.speLimit !== undefined) {
    const s = expectObject(o.speLimit, `${name}.speLimit`);
    if (s.method === 'empirical') {
      speRule = 'empirical';
      speQuantile = expectNumber(s.quantile, `${name}.speLimit.quantile`);
      if (!(speQuantile > 0 && speQuantile < 1)) {
        throw new RangeError(`${name}.speLimit.quantile must be in (0, 1); got ${speQuantile}`);
      }
    } else if (s.method !== 'jackson_mudholkar') {
      throw new RangeError(
        `${name}.speLimit.method must be 'jackson_mudholkar' or 'empirical'; got ${describe(s.method)}`,
      );
    }
  }
  const record: Record<string, unknown> = {
    variance,
    n_components: nComponents === 0 ? null : nComponents,
    alpha,
    z_limit: zLimit,
    spe_limit: speRule === 'empirical' ? { method: speRule, quantile: speQuantile } : { method: speRule },
  };
  return {
    native: { variance, nComponents, alpha, zLimit, speRule, speQuantile },
    record,
    zLimitGiven: o.zLimit !== undefined,
  };
}

interface ResolvedMeta {
  metrics: string[];
  datasetId: string | null;
  params: Record<string, unknown> | undefined;
  trainedAt: string | undefined;
}

/**
 * Default metric names for d columns: METRICS when d = 8, else metric_0, metric_1, ….
 *
 * @param d - number of columns, ≥ 1
 * @example
 * defaultMetricNames(2); // ['metric_0', 'metric_1']
 */
export function defaultMetricNames(d: number): string[] {
  return d === METRICS.length ? [...METRICS] : Array.from({ length: d }, (_, j) => `metric_${j}`);
}

function resolveMeta(meta: ModelMeta | undefined, d: number, name: string): ResolvedMeta {
  const o = meta === undefined ? {} : expectObject(meta, name);
  let metrics = defaultMetricNames(d);
  if (o.metrics !== undefined) {
    if (!Array.isArray(o.metrics) || !o.metrics.every((s) => typeof s === 'string' && s.length > 0)) {
      throw new TypeError(
        `${name}.metrics must be an array of non-empty strings; got ${describe(o.metrics)}`,
      );
    }
    const list = o.metrics as string[];
    if (list.length !== d)
      throw new RangeError(`${name}.metrics must have ${d} names (one per column); got ${list.length}`);
    if (new Set(list).size !== d)
      throw new RangeError(`${name}.metrics must be unique; got ${list.join(', ')}`);
    metrics = [...list];
  }
  if (o.datasetId !== undefined && o.datasetId !== null && typeof o.datasetId !== 'string') {
    throw new TypeError(`${name}.datasetId must be a string or null; got ${describe(o.datasetId)}`);
  }
  const params = o.params === undefined ? undefined : expectObject(o.params, `${name}.params`);
  if (o.trainedAt !== undefined) {
    if (typeof o.trainedAt !== 'string' || Number.isNaN(Date.parse(o.trainedAt))) {
      throw new TypeError(
        `${name}.trainedAt must be an RFC 3339 timestamp string; got ${describe(o.trainedAt)}`,
      );
    }
  }
  return {
    metrics,
    datasetId: o.datasetId ?? null,
    params,
    trainedAt: o.trainedAt,
  };
}

function speInfoJson(r: NativeFitResult): SpeLimitInfo {
  const s = r.spe;
  const theta: [number, number, number] = [s.theta1, s.theta2, s.theta3];
  switch (s.method) {
    case 'jackson_mudholkar':
      return { method: s.method, alpha: r.alpha, theta, h0: s.h0, z_alpha: s.zAlpha };
    case 'box':
      return {
        method: s.method,
        alpha: r.alpha,
        theta,
        h0: s.h0,
        g: s.g,
        h: s.h,
        chi2_quantile: s.chi2Quantile,
      };
    case 'residual_floor':
      return { method: s.method, alpha: r.alpha, theta };
    case 'empirical':
      return { method: s.method, quantile: s.quantile, n: r.nSamples };
    case 'none':
      return { method: s.method };
  }
}

// Assemble model.json from the addon's result and the resolved options and meta.
function toModelJson(r: NativeFitResult, fit: ResolvedFit, meta: ResolvedMeta): ModelJson {
  const d = r.nFeatures;
  const k = r.nComponents;
  const components: number[][] = [];
  for (let c = 0; c < k; c++) components.push(Array.from(r.components.subarray(c * d, (c + 1) * d)));
  return {
    format_version: 1,
    metrics: meta.metrics,
    mean: Array.from(r.mean),
    scale: Array.from(r.scale),
    components,
    eigenvalues: Array.from(r.eigenvalues),
    explained_variance_ratio: Array.from(r.explainedVarianceRatio),
    n_components: k,
    n_samples: r.nSamples,
    median: Array.from(r.median),
    mad: Array.from(r.mad),
    z_scale: Array.from(r.zScale),
    spe_limit: r.speLimit,
    t2_limit: r.t2Limit,
    z_limit: r.zLimit,
    limits: {
      spe: speInfoJson(r),
      t2: { method: 'f_distribution', alpha: r.alpha, f_quantile: r.fQuantile },
      z: { method: 'fixed', given: fit.zLimitGiven },
    },
    dataset_id: meta.datasetId,
    params: { ...fit.record, ...(meta.params ?? {}) },
    trained_at: meta.trainedAt ?? new Date().toISOString(),
  };
}

function splitOptions(options: (FitOptions & ModelMeta) | undefined): { fit?: FitOptions; meta?: ModelMeta } {
  if (options === undefined) return {};
  const o = expectObject(options, 'options');
  rejectUnknownKeys(o, [...FIT_OPTION_KEYS, ...META_KEYS], 'options');
  return { fit: o, meta: o };
}

// ---------------------------------------------------------------------------------------------
// The model.

let scorerOf: (model: PcaModel) => NativeScorer;

/**
 * A fitted PCA model: read-only learned state plus a native scorer prepared once. Build one with
 * {@link fitPca}, {@link fitPcaAsync}, {@link PcaAccumulator.finish} or {@link PcaModel.fromJSON}.
 * Array getters return copies.
 */
export class PcaModel {
  /** Number of metrics d. */
  readonly nFeatures: number;
  /** Number of principal components k (the resolved choice). */
  readonly nComponents: number;
  /** Number of training rows n. */
  readonly nSamples: number;
  /** Metric names, in column order. */
  readonly metrics: readonly string[];
  /** SPE limit (0 when d = 1: there is no SPE). */
  readonly speLimit: number;
  /** Hotelling T² limit. */
  readonly t2Limit: number;
  /** Robust z limit. */
  readonly zLimit: number;
  /** How each limit was set. */
  readonly limits: Readonly<ModelJson['limits']>;
  /** Training dataset id, or null. */
  readonly datasetId: string | null;
  /** Recorded parameters. */
  readonly params: Readonly<Record<string, unknown>>;
  /** RFC 3339 training time. */
  readonly trainedAt: string;

  readonly #json: ModelJson;
  readonly #scorer: NativeScorer;

  static {
    scorerOf = (model) => model.#scorer;
  }

  /**
   * Builds a model from parsed model.json (use {@link PcaModel.fromJSON} for untrusted input).
   *
   * @param json - a parsed model.json (kept as a copy)
   * @throws RangeError when the fields are inconsistent (lengths, k, non-positive limits).
   */
  constructor(json: ModelJson) {
    if (json.metrics.length > MAX_FEATURES) {
      throw new RangeError(
        `model.metrics must hold at most ${MAX_FEATURES} names; got ${json.metrics.length}`,
      );
    }
    checkModelShape(json);
    this.#json = structuredClone(json);
    const j = this.#json;
    this.nFeatures = j.metrics.length;
    this.nComponents = j.n_components;
    this.nSamples = j.n_samples;
    this.metrics = Object.freeze([...j.metrics]);
    this.speLimit = j.spe_limit;
    this.t2Limit = j.t2_limit;
    this.zLimit = j.z_limit;
    this.limits = structuredClone(j.limits);
    this.datasetId = j.dataset_id;
    this.params = structuredClone(j.params);
    this.trainedAt = j.trained_at;
    try {
      this.#scorer = new native.Scorer({
        nFeatures: this.nFeatures,
        nComponents: this.nComponents,
        mean: Float64Array.from(j.mean),
        scale: Float64Array.from(j.scale),
        components: Float64Array.from(j.components.flat()),
        eigenvalues: Float64Array.from(j.eigenvalues),
        median: Float64Array.from(j.median),
        zScale: Float64Array.from(j.z_scale),
        speLimit: j.spe_limit,
        zLimit: j.z_limit,
      });
    } catch (err) {
      throw translateNativeError(err);
    }
  }

  /**
   * Validates and loads model.json (format_version 1, DESIGN.md's snake_case fields).
   * @param json - the parsed JSON value.
   * @throws TypeError naming the first field whose type is wrong; RangeError when fields disagree.
   */
  static fromJSON(json: unknown): PcaModel {
    const parsed = modelJsonSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const path = issue.path.length > 0 ? `model.${issue.path.join('.')}` : 'model';
      throw new TypeError(`${path} is invalid: ${issue.message}`);
    }
    return new PcaModel(parsed.data);
  }

  /** model.json: doubles survive JSON.stringify / JSON.parse exactly. Returns a fresh copy. */
  toJSON(): ModelJson {
    return structuredClone(this.#json);
  }

  /** Column means (copy), length d. */
  get mean(): Float64Array {
    return Float64Array.from(this.#json.mean);
  }
  /** Column scales (population standard deviation, 1 for a constant column), length d. */
  get scale(): Float64Array {
    return Float64Array.from(this.#json.scale);
  }
  /** Principal axes, shape (k, d) row-major. */
  get components(): Float64Array {
    return Float64Array.from(this.#json.components.flat());
  }
  /** All d eigenvalues of the standardised covariance, descending. */
  get eigenvalues(): Float64Array {
    return Float64Array.from(this.#json.eigenvalues);
  }
  /** All d explained variance ratios. */
  get explainedVarianceRatio(): Float64Array {
    return Float64Array.from(this.#json.explained_variance_ratio);
  }
  /** Per-metric training medians. */
  get median(): Float64Array {
    return Float64Array.from(this.#json.median);
  }
  /** Per-metric training MADs (unscaled). */
  get mad(): Float64Array {
    return Float64Array.from(this.#json.mad);
  }
  /** Per-metric robust z scale in use. */
  get zScale(): Float64Array {
    return Float64Array.from(this.#json.z_scale);
  }

  /**
   * A copy of this model whose SPE limit is the `quantile` of the given training SPE values
   * (linear interpolation between order statistics), for fits that streamed their rows: score the
   * training rows with {@link scoreBatch} and pass `out.spe`. Where that quantile is 0, the limit
   * is the residual floor 1e-12 · λ₁ as in a fit.
   * @param trainingSpe - SPE of the training rows (finite, at least one).
   * @param quantile - in (0, 1), e.g. 0.999.
   * @throws RangeError for d = 1 (no SPE), an empty or non-finite input, or a quantile out of range.
   */
  withEmpiricalSpeLimit(trainingSpe: Float64Array, quantile: number): PcaModel {
    if (this.nFeatures === 1) throw new RangeError('withEmpiricalSpeLimit: a model of one metric has no SPE');
    if (!(trainingSpe instanceof Float64Array)) {
      throw new TypeError(`trainingSpe must be a Float64Array; got ${describe(trainingSpe)}`);
    }
    if (trainingSpe.length === 0) throw new RangeError('trainingSpe must hold at least 1 value; got 0');
    const q = expectNumber(quantile, 'quantile');
    if (!(q > 0 && q < 1)) throw new RangeError(`quantile must be in (0, 1); got ${q}`);
    const sorted = Float64Array.from(trainingSpe).sort();
    if (!Number.isFinite(sorted[0]!) || !Number.isFinite(sorted[sorted.length - 1]!) || sorted[0]! < 0) {
      throw new RangeError('trainingSpe values must be finite and >= 0');
    }
    const pos = q * (sorted.length - 1);
    const lo = Math.floor(pos);
    const a = sorted[lo]!;
    const value = lo + 1 < sorted.length ? a + (sorted[lo + 1]! - a) * (pos - lo) : a;
    const json = this.toJSON();
    if (value > 0) {
      json.spe_limit = value;
      json.limits.spe = { method: 'empirical', quantile: q, n: sorted.length };
    } else {
      json.spe_limit = 1e-12 * json.eigenvalues[0]!;
      json.limits.spe = { method: 'residual_floor', alpha: json.limits.t2.alpha, theta: [0, 0, 0] };
    }
    return new PcaModel(json);
  }
}

// ---------------------------------------------------------------------------------------------
// Fitting.

/**
 * Exact robust statistics of an in-memory matrix, per column (selection, O(n) per column).
 * @param m - finite values, shape (nSamples ≥ 1, nFeatures).
 * @throws TypeError / RangeError for a malformed matrix, no rows, or a non-finite value.
 */
export function robustStats(m: Matrix): RobustStats {
  checkMatrix(m, 'm');
  if (m.rows < 1) throw new RangeError('m.rows must be >= 1 for robust statistics; got 0');
  try {
    const r = native.robustStats(m.data, m.rows, m.cols);
    return { median: r.median, mad: r.mad, meanAbsDevFromMedian: r.meanAbsDev };
  } catch (err) {
    throw translateNativeError(err, 'm.data');
  }
}

/**
 * Fits a model to an in-memory matrix, synchronously: moments in one pass, exact robust
 * statistics, eigendecomposition, k, limits.
 * @param m - training rows, shape (nSamples, nFeatures ≤ 10,000), all finite; n ≥ 2 and n > k + 1.
 * @param options - {@link FitOptions} and {@link ModelMeta}.
 * @throws TypeError / RangeError for bad input (a non-finite value names its row and column);
 *   PcaError `PCA_TOO_FEW_ROWS`, `PCA_DEGENERATE` (every column constant), `PCA_RANK_DEFICIENT`,
 *   `PCA_OUT_OF_MEMORY` (the d × d matrices of the fit exceed the machine's memory).
 * @example
 * ```ts
 * const model = fitPca(matrix, { nComponents: 3, datasetId: id });
 * ```
 */
export function fitPca(m: Matrix, options?: FitOptions & ModelMeta): PcaModel {
  checkMatrix(m, 'm');
  const { fit, meta } = splitOptions(options);
  const resolved = resolveFitOptions(fit, m.cols, 'options');
  const resolvedMeta = resolveMeta(meta, m.cols, 'options');
  let result: NativeFitResult;
  try {
    result = native.fit(m.data, m.rows, m.cols, resolved.native);
  } catch (err) {
    throw translateNativeError(err, 'm.data');
  }
  return new PcaModel(toModelJson(result, resolved, resolvedMeta));
}

/**
 * {@link fitPca} off the event loop: the input is copied when the call is made and the work runs
 * on a worker thread, so the caller may write to, reuse or transfer the array at once (the copy
 * is one pass over the rows on the calling thread, about a tenth of the time of the fit itself).
 *
 * @param m - the training matrix, shape (nSamples, nFeatures), as for {@link fitPca}
 * @param options - fit options and model metadata, as for {@link fitPca}
 * @returns the fitted model
 * @throws PcaError as {@link fitPca} does (the promise rejects)
 * @example
 * const model = await fitPcaAsync({ rows: 1000, cols: 8, data }, { variance: 0.95 });
 */
export async function fitPcaAsync(m: Matrix, options?: FitOptions & ModelMeta): Promise<PcaModel> {
  checkMatrix(m, 'm');
  const { fit, meta } = splitOptions(options);
  const resolved = resolveFitOptions(fit, m.cols, 'options');
  const resolvedMeta = resolveMeta(meta, m.cols, 'options');
  let result: NativeFitResult;
  try {
    result = await native.fitAsync(m.data, m.rows, m.cols, resolved.native);
  } catch (err) {
    throw translateNativeError(err, 'm.data');
  }
  return new PcaModel(toModelJson(result, resolved, resolvedMeta));
}

/**
 * Streaming fit: push row-major chunks of any size, then finish with robust statistics computed
 * elsewhere (e.g. in the database). One pass, memory independent of the row count; the result is
 * bitwise identical however the rows are chunked, and identical to {@link fitPca} on the same
 * rows when given the same robust statistics.
 * @example
 * ```ts
 * const acc = new PcaAccumulator(8);
 * for await (const chunk of chunks) acc.push(chunk);
 * const model = acc.finish(robust, { variance: 0.95 }, { datasetId });
 * ```
 */
export class PcaAccumulator {
  readonly #native: NativeAccumulator;
  /** Number of metrics per row. */
  readonly nFeatures: number;

  /**
   * @param nFeatures - metrics per row, an integer in [1, 10,000]; the accumulator needs up to
   *   24·d² + 16 KiB·d bytes (2.6 GB at d = 10,000).
   * @throws RangeError for another d; PcaError `PCA_OUT_OF_MEMORY` when the machine's memory
   *   cannot hold it.
   */
  constructor(nFeatures: number) {
    this.nFeatures = expectInteger(nFeatures, 'nFeatures', 1, MAX_FEATURES);
    this.#native = new native.Accumulator(this.nFeatures);
  }

  /**
   * Adds rows. On error nothing of the chunk is added.
   * @param chunk - shape (rows, nFeatures), finite values.
   * @throws RangeError naming the row and column of a non-finite value, or a column mismatch.
   */
  push(chunk: Matrix): void {
    checkMatrix(chunk, 'chunk');
    if (chunk.cols !== this.nFeatures) {
      throw new RangeError(`chunk.cols must equal nFeatures = ${this.nFeatures}; got ${chunk.cols}`);
    }
    try {
      this.#native.push(chunk.data, chunk.rows, chunk.cols);
    } catch (err) {
      throw translateNativeError(err, 'chunk.data');
    }
  }

  /** Rows pushed so far. */
  get rows(): number {
    return this.#native.rows();
  }

  /**
   * Fits the model from the rows pushed so far; the accumulator stays usable.
   * @param robust - per-metric median, MAD and mean absolute deviation from the median (length d).
   * @param options - fit options; `speLimit: { method: 'empirical' }` is rejected (see
   *   {@link PcaModel.withEmpiricalSpeLimit}).
   * @param meta - descriptive fields.
   * @throws RangeError / TypeError for bad input; PcaError as {@link fitPca}.
   */
  finish(robust: RobustStats, options?: FitOptions, meta?: ModelMeta): PcaModel {
    const r = expectObject(robust, 'robust');
    for (const key of ['median', 'mad', 'meanAbsDevFromMedian'] as const) {
      const v = r[key];
      if (!(v instanceof Float64Array))
        throw new TypeError(`robust.${key} must be a Float64Array; got ${describe(v)}`);
      if (v.length !== this.nFeatures) {
        throw new RangeError(
          `robust.${key}.length must equal nFeatures = ${this.nFeatures}; got ${v.length}`,
        );
      }
      for (let j = 0; j < v.length; j++) {
        if (!Number.isFinite(v[j]!) || (key !== 'median' && v[j]! < 0)) {
          throw new RangeError(
            `robust.${key}[${j}] must be finite${key === 'median' ? '' : ' and >= 0'}; got ${v[j]}`,
          );
        }
      }
    }
    if (options !== undefined)
      rejectUnknownKeys(expectObject(options, 'options'), FIT_OPTION_KEYS, 'options');
    if (meta !== undefined) rejectUnknownKeys(expectObject(meta, 'meta'), META_KEYS, 'meta');
    const resolved = resolveFitOptions(options, this.nFeatures, 'options');
    if (resolved.native.speRule === 'empirical') {
      throw new RangeError(
        "options.speLimit.method 'empirical' needs the training rows; finish with 'jackson_mudholkar' and then use model.withEmpiricalSpeLimit(trainingSpe, quantile)",
      );
    }
    const resolvedMeta = resolveMeta(meta, this.nFeatures, 'meta');
    const rb = robust;
    let result: NativeFitResult;
    try {
      result = this.#native.finish(rb.median, rb.mad, rb.meanAbsDevFromMedian, resolved.native);
    } catch (err) {
      throw translateNativeError(err);
    }
    return new PcaModel(toModelJson(result, resolved, resolvedMeta));
  }
}

// ---------------------------------------------------------------------------------------------
// Scoring.

/**
 * Allocates output buffers for {@link scoreBatch} (reuse them across calls so hot loops allocate
 * nothing).
 * @param rows - records per batch, an integer ≥ 0.
 * @param nFeatures - the model's d (sizes the contributions).
 * @param contributions - also allocate (rows, d) contributions; default false.
 */
export function allocateScoreOutput(rows: number, nFeatures: number, contributions = false): ScoreOutput {
  expectInteger(rows, 'rows', 0, 2 ** 40);
  expectInteger(nFeatures, 'nFeatures', 1, MAX_FEATURES);
  const out: ScoreOutput = {
    fused: new Float64Array(rows),
    spe: new Float64Array(rows),
    t2: new Float64Array(rows),
    zMax: new Float64Array(rows),
    topMetric: new Int32Array(rows),
    anomalous: new Uint8Array(rows),
    invalidCount: 0,
    rows,
  };
  if (contributions) out.contributions = new Float64Array(rows * nFeatures);
  return out;
}

function checkOut(out: ScoreOutput, rows: number, d: number, contributions: boolean): void {
  const need = (v: unknown, name: string, type: { name: string; prototype: unknown }, len: number) => {
    if (!(v instanceof (type as unknown as typeof Float64Array))) {
      throw new TypeError(`options.out.${name} must be a ${type.name}; got ${describe(v)}`);
    }
    if (v.length < len) {
      throw new RangeError(`options.out.${name}.length must be >= ${len}; got ${v.length}`);
    }
  };
  need(out.fused, 'fused', Float64Array, rows);
  need(out.spe, 'spe', Float64Array, rows);
  need(out.t2, 't2', Float64Array, rows);
  need(out.zMax, 'zMax', Float64Array, rows);
  need(out.topMetric, 'topMetric', Int32Array, rows);
  need(out.anomalous, 'anomalous', Uint8Array, rows);
  if (contributions) need(out.contributions, 'contributions', Float64Array, rows * d);
}

/**
 * Scores records: fused score, SPE, T², z_max, top metric, anomaly flag and, on request, per-metric
 * contributions. The input is read in place; a record with a non-finite value is invalid (NaN
 * scores, not anomalous, top metric −1) and counted in `invalidCount`.
 * @param model - a fitted or loaded model.
 * @param m - records, shape (rows, model.nFeatures).
 * @param options - `contributions` (default false) and `out` buffers to write into.
 * @returns `options.out` when given (with `rows` and `invalidCount` set), else new buffers.
 * @throws TypeError / RangeError naming the parameter for a wrong shape or short buffers.
 * @example
 * ```ts
 * const out = allocateScoreOutput(1, model.nFeatures);
 * scoreBatch(model, { rows: 1, cols: 8, data: record }, { out });
 * ```
 */
export function scoreBatch(model: PcaModel, m: Matrix, options?: ScoreOptions): ScoreOutput {
  if (!(model instanceof PcaModel)) throw new TypeError(`model must be a PcaModel; got ${describe(model)}`);
  checkMatrix(m, 'm');
  const d = model.nFeatures;
  if (m.cols !== d) throw new RangeError(`m.cols must equal model.nFeatures = ${d}; got ${m.cols}`);
  let contributions = false;
  let out: ScoreOutput | undefined;
  if (options !== undefined) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`options must be an object; got ${describe(options)}`);
    }
    if (options.contributions !== undefined && typeof options.contributions !== 'boolean') {
      throw new TypeError(`options.contributions must be a boolean; got ${describe(options.contributions)}`);
    }
    contributions = options.contributions === true;
    out = options.out;
  }
  if (out === undefined) {
    out = allocateScoreOutput(m.rows, d, contributions);
  } else {
    if (typeof out !== 'object' || out === null)
      throw new TypeError(`options.out must be a ScoreOutput; got ${describe(out)}`);
    checkOut(out, m.rows, d, contributions);
  }
  try {
    out.invalidCount = scorerOf(model).score(
      m.data,
      m.rows,
      out.fused,
      out.spe,
      out.t2,
      out.zMax,
      out.topMetric,
      out.anomalous,
      contributions ? out.contributions! : null,
    );
  } catch (err) {
    throw translateNativeError(err);
  }
  out.rows = m.rows;
  return out;
}
