/**
 * The deterministic telemetry generator (DESIGN.md "Telemetry"): a fleet of hosts, each with
 * three latent factors — compute load, memory pressure, network traffic — driving the eight
 * metrics, with labelled anomaly episodes injected on top. Output is streamed as typed-column
 * {@link TelemetryChunk}s, so a dataset never sits whole in memory.
 *
 * ## The model of normal data
 * For host h and factor k (0 compute, 1 memory, 2 network), at time t (seconds since the epoch):
 *
 *     F_k(t) = b_hk + A_hk · g(ω t + φ_hk) + a_hk(t)
 *     g(θ)   = sin θ + 0.3 · sin 2θ                       (a daily cycle with a second harmonic)
 *     a(t)   = ρ · a(t − Δ) + 0.5 · √(1 − ρ²) · ε,  ρ = exp(−Δ / 1800 s)   (AR(1), stationary sd 0.5)
 *
 * with a per-host baseline b ~ N(0, 0.6²) clipped to ±1.5 (baselines shift the factors, never
 * single metrics), a per-host amplitude A ∈ [0.6, 1.1), and a phase φ made of the region's time
 * zone (2π · regionIndex / regionCount), a per-host jitter in ±0.3 rad, and a per-factor lag
 * (memory trails compute by 3 h, network leads it by 2 h). Each metric is then
 *
 *     x_j = clip(μ_j + Σ_k L_jk F_k + s_j · η_j)
 *
 * with fixed means μ, loadings L and small independent noise s·η (about 1 % of each metric's
 * variance), clipped at its physical limits (0 below; 100 % above for cpu and memory), which
 * normal data reaches rarely. So the data is, up to that small noise, a linear image of three
 * factors: the first three principal components explain well over 95 % of the standardised
 * variance and the 0.95 rule picks k = 3.
 *
 * ## Anomalies
 * Each host has its own plan: gaps between episodes are geometric with a mean chosen so that the
 * expected fraction of anomalous records is `anomalyRate`; every episode is on one host, of one
 * type (drawn by the weights of `anomalyTypes`), 5–60 records long (spikes 5–10), and never
 * touches another episode (at least one normal record between two). Sizes are in units of σ, the
 * metric's standard deviation on that host's normal data, computed **analytically** from the
 * model (the stationary variance over whole days: the factors' covariance — daily cycles with
 * their phase differences plus the AR variance — through the loadings, plus the noise; clipping
 * ignored). Anomalies are applied to the clipped normal value and clipped again:
 * - `spike`: 4–8σ added to 1–3 metrics for the whole (5–10 record) episode;
 * - `level_shift`: 3–5σ added to 1–3 metrics, held for the episode;
 * - `drift`: one metric ramps linearly, 6σ · (i + 1) / length at the episode's i-th record;
 * - `stuck`: one metric frozen at its value in the host's previous (normal) record;
 * - `noise_burst`: the independent noise of 2–4 metrics ×5 (4 more times the record's own
 *   noise draw is added);
 * - `correlation_break`: one metric follows an independent AR(1) latent of the same mean and
 *   spread (μ_hj + σ_hj · z), kept inside its normal range μ_hj ± 3σ_hj (and its physical
 *   limits).
 * Anomalies never consume draws of the normal streams, so the records outside episodes are
 * exactly those of the same parameters with `anomalyRate` 0.
 *
 * ## Determinism
 * Every random number comes from a {@link Random} stream keyed by the seed and a purpose:
 * `(0, h)` host h's fleet attributes, `(1, h)` its factor and noise draws (11 normals a record:
 * 3 AR innovations, then 8 noise values, in METRICS order), `(2, h)` its anomaly plan, and
 * `(3, h, n)` the latent of its n-th episode. Chunk size never changes the rows.
 */
import {
  GenerateParamsSchema,
  stepCount,
  type GenerateParams,
  type GenerateParamsInput,
} from '../contract/generator.js';
import { ValidationError } from './errors.js';
import { fillNormalsAt, Random } from './random.js';
import { ownsHost } from './sharding.js';
import { ANOMALY_TYPES, METRICS, type AnomalyType, type HostInfo, type TelemetryChunk } from './types.js';

export type { GenerateParams, GenerateParamsInput } from '../contract/generator.js';

// ---------------------------------------------------------------------------------------------
// Model constants
// ---------------------------------------------------------------------------------------------

const D = METRICS.length; // 8 metrics
const K = 3; // latent factors
/** Normal draws per record: K AR innovations then D noise values. */
const DRAWS = K + D;

/** Mean of each metric at zero factors, in METRICS order. */
const METRIC_MEAN = [45, 55, 60, 400, 300, 5, 40, 2];
/** Loadings of each metric on (compute, memory, network). */
const LOADINGS = [
  [12, 0, 0], // cpu_usage %
  [2, 9, 0], // memory_usage %
  [4, 14, 0], // disk_io MB/s
  [0, 0, 90], // network_in Mbit/s
  [12, 0, 70], // network_out Mbit/s
  [1.2, 0, 0], // load_avg
  [7, 1, 3], // latency_ms
  [0.45, 0, 0.05], // error_rate errors/s: a rate tied to load
];
/** Standard deviation of each metric's independent noise. */
const NOISE_SD = [1.2, 0.9, 1.5, 9, 7, 0.12, 0.9, 0.05];
/** Physical limits. */
const LOWER = [0, 0, 0, 0, 0, 0, 0, 0];
const UPPER = [100, 100, Infinity, Infinity, Infinity, Infinity, Infinity, Infinity];

// The same constants as flat typed arrays, for the row loop
const MU = Float64Array.from(METRIC_MEAN);
const L0 = Float64Array.from(LOADINGS, (l) => l[0]!);
const L1 = Float64Array.from(LOADINGS, (l) => l[1]!);
const L2 = Float64Array.from(LOADINGS, (l) => l[2]!);
const NS = Float64Array.from(NOISE_SD);
const LO = Float64Array.from(LOWER);
const HI = Float64Array.from(UPPER);

/** Weight of the daily cycle's second harmonic. */
const HARMONIC = 0.3;
/** Stationary standard deviation of each factor's AR(1) part. */
const AR_SD = 0.5;
/** Correlation time of the AR(1) part, in seconds. */
const AR_TAU_S = 1800;
/** Per-factor phase lag of the daily cycle, in hours (memory trails, network leads). */
const FACTOR_LAG_H = [0, -3, 2];
/** Host baselines: N(0, BASELINE_SD²) clipped to ±BASELINE_MAX. */
const BASELINE_SD = 0.6;
const BASELINE_MAX = 1.5;
const DAY_S = 86_400;

/** Episode lengths in records. */
const SPIKE_LENGTH = [5, 10] as const;
const EPISODE_LENGTH = [5, 60] as const;
/** Half-width of the normal range used by correlation breaks, in σ. */
const NORMAL_RANGE_SIGMA = 3;

const TYPE_CODE: Record<AnomalyType, number> = Object.fromEntries(
  ANOMALY_TYPES.map((t, i) => [t, i]),
) as Record<AnomalyType, number>;
const SPIKE = TYPE_CODE.spike;
const DRIFT = TYPE_CODE.drift;
const LEVEL_SHIFT = TYPE_CODE.level_shift;
const STUCK = TYPE_CODE.stuck;
const NOISE_BURST = TYPE_CODE.noise_burst;
const CORRELATION_BREAK = TYPE_CODE.correlation_break;

/** The model's constants, for documentation and tests (see the module comment). */
export const GENERATOR_MODEL = Object.freeze({
  /** μ_j: each metric's mean at zero factors (METRICS order). */
  metricMean: Object.freeze([...METRIC_MEAN]),
  /** L_jk: loadings of each metric on (compute, memory, network). */
  loadings: Object.freeze(LOADINGS.map((l) => Object.freeze([...l]))),
  /** s_j: standard deviation of each metric's independent noise. */
  noiseSd: Object.freeze([...NOISE_SD]),
  /** Physical limits of each metric. */
  lower: Object.freeze([...LOWER]),
  upper: Object.freeze([...UPPER]),
  /** Stationary sd and correlation time (s) of the factors' AR(1) part. */
  arSd: AR_SD,
  arTauS: AR_TAU_S,
  /** Half-width, in σ, of the normal range a correlation break stays inside. */
  normalRangeSigma: NORMAL_RANGE_SIGMA,
});

/** Default rows per generated chunk. */
export const DEFAULT_CHUNK_ROWS = 65_536;
/** Most rows per generated chunk (the least is 1). */
export const MAX_CHUNK_ROWS = 1_000_000;

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** One injected anomaly episode. */
export interface AnomalyEpisode {
  /** Id unique within the dataset: 1, 2, … in the order of the episodes' first records. */
  id: number;
  /** Index of the host in the fleet. */
  host: number;
  type: AnomalyType;
  /** Time step of the first record (its row is `startStep · hostCount + host`). */
  startStep: number;
  /** Number of records (consecutive time steps of the host). */
  length: number;
  /** Metric indices (METRICS order) the episode changes. */
  metrics: number[];
  /**
   * Per affected metric: the size in σ for `spike` and `level_shift`, the final size in σ for
   * `drift` (6), the noise factor for `noise_burst` (5); 0 for `stuck` and `correlation_break`.
   */
  magnitudes: number[];
}

/** Per-host statistics of normal data, from the model (see the module comment). */
export interface HostMetricStats {
  /** Mean of each metric on the host's normal data (METRICS order). */
  mean: Float64Array;
  /** σ: the standard deviation of each metric on the host's normal data. */
  sd: Float64Array;
}

/** Options of {@link generateTelemetry}. */
export interface GenerateOptions {
  /** Rows per chunk, an integer in [1, 1 000 000] (default 65 536). Never changes the rows. */
  chunkRows?: number;
}

/** A generated dataset: its fleet, size, and a way to stream its rows. */
export interface GeneratedTelemetry {
  /** The parameters, validated and defaulted. */
  params: GenerateParams;
  /** The fleet, in host id (= generation) order. */
  hosts: HostInfo[];
  /** Time steps: ⌊durationS / intervalS⌋. */
  steps: number;
  /** Rows: hosts × steps. */
  totalRows: number;
  /** First timestamp, ms since the epoch. */
  startMs: number;
  /** Sampling interval, ms. */
  intervalMs: number;
  /**
   * Streams the rows from row 0, in chunks of `chunkRows` (the last may be shorter). Each call
   * starts afresh; each chunk's arrays are new (a consumer may keep them).
   */
  chunks(): Iterable<TelemetryChunk>;
  /** Every anomaly episode of the dataset, in id order (computed from the plans alone). */
  episodes(): AnomalyEpisode[];
  /** Normal-data mean and σ of each metric on host `host` (index into `hosts`). */
  hostStats(host: number): HostMetricStats;
}

// ---------------------------------------------------------------------------------------------
// The fleet: per-host attributes and the derived coefficients
// ---------------------------------------------------------------------------------------------

/** Everything fixed about a fleet, derived from the parameters and the seed. */
interface Fleet {
  params: GenerateParams;
  hosts: HostInfo[];
  hostCount: number;
  intervalMs: number;
  /** AR coefficient and innovation sd per step. */
  rho: number;
  innovation: number;
  /** Per host, K baselines. */
  baseline: Float64Array;
  /** Per host and factor: A·cos φ, A·sin φ, A·c·cos 2φ, A·c·sin 2φ. */
  daily: Float64Array;
  /** Per host and metric: normal mean and σ. */
  mean: Float64Array;
  sd: Float64Array;
  /** Cumulative anomaly type weights (normalised), in code order. */
  typeCdf: Float64Array;
  /** Mean gap between episodes, minus the minimum of 1, in records (exponential scale). */
  gapScale: number;
}

function buildFleet(params: GenerateParams): Fleet {
  const H = params.hostCount;
  const width = Math.max(4, String(H).length);
  const hosts: HostInfo[] = [];
  const baseline = new Float64Array(H * K);
  const daily = new Float64Array(H * K * 4);
  const mean = new Float64Array(H * D);
  const sd = new Float64Array(H * D);
  const R = params.regions.length;
  const amp = new Float64Array(K);
  const phase = new Float64Array(K);

  for (let h = 0; h < H; h++) {
    // Host attributes from the host's fleet stream (0, h)
    const rng = Random.fromSeed(params.seed, 0, h);
    const regionIndex = h % R;
    const project = params.projects[rng.nextIntInclusive(0, params.projects.length - 1)]!;
    hosts.push({
      hostId: `host-${String(h + 1).padStart(width, '0')}`,
      projectId: project,
      region: params.regions[regionIndex]!,
    });
    const hostPhase = (2 * Math.PI * regionIndex) / R + rng.nextRange(-0.3, 0.3);
    for (let k = 0; k < K; k++) {
      baseline[h * K + k] = Math.max(-BASELINE_MAX, Math.min(BASELINE_MAX, BASELINE_SD * rng.nextNormal()));
      amp[k] = rng.nextRange(0.6, 1.1);
      phase[k] = hostPhase + (2 * Math.PI * FACTOR_LAG_H[k]!) / 24;
      const o = (h * K + k) * 4;
      daily[o] = amp[k]! * Math.cos(phase[k]!);
      daily[o + 1] = amp[k]! * Math.sin(phase[k]!);
      daily[o + 2] = amp[k]! * HARMONIC * Math.cos(2 * phase[k]!);
      daily[o + 3] = amp[k]! * HARMONIC * Math.sin(2 * phase[k]!);
    }

    // Analytic normal statistics: factor covariance C, then each metric's mean and variance
    const cov = new Float64Array(K * K);
    for (let a = 0; a < K; a++) {
      for (let b = 0; b < K; b++) {
        const dphi = phase[a]! - phase[b]!;
        cov[a * K + b] =
          (amp[a]! * amp[b]! * (Math.cos(dphi) + HARMONIC * HARMONIC * Math.cos(2 * dphi))) / 2 +
          (a === b ? AR_SD * AR_SD : 0);
      }
    }
    for (let j = 0; j < D; j++) {
      const L = LOADINGS[j]!;
      let m = METRIC_MEAN[j]!;
      let v = NOISE_SD[j]! * NOISE_SD[j]!;
      for (let a = 0; a < K; a++) {
        m += L[a]! * baseline[h * K + a]!;
        for (let b = 0; b < K; b++) v += L[a]! * L[b]! * cov[a * K + b]!;
      }
      mean[h * D + j] = m;
      sd[h * D + j] = Math.sqrt(v);
    }
  }

  // Anomaly mix: normalised weights, and the gap scale that gives the requested rate
  const weights = ANOMALY_TYPES.map((t) => params.anomalyTypes[t]);
  const total = weights.reduce((s, w) => s + w, 0);
  const typeCdf = new Float64Array(ANOMALY_TYPES.length);
  let acc = 0;
  let meanLength = 0;
  for (let i = 0; i < weights.length; i++) {
    const p = weights[i]! / total;
    acc += p;
    typeCdf[i] = acc;
    const [lo, hi] = i === SPIKE ? SPIKE_LENGTH : EPISODE_LENGTH;
    meanLength += p * ((lo + hi) / 2);
  }
  typeCdf[typeCdf.length - 1] = 1;
  // Fraction anomalous = L̄ / (L̄ + E[gap]); gap = 1 + ⌊Exp · scale⌋ has mean ≈ scale + 0.5.
  const rate = params.anomalyRate;
  const meanGap = rate > 0 ? (meanLength * (1 - rate)) / rate : Infinity;
  const gapScale = Math.max(0, meanGap - 0.5);

  const intervalMs = params.intervalS * 1000;
  const rho = Math.exp(-params.intervalS / AR_TAU_S);
  return {
    params,
    hosts,
    hostCount: H,
    intervalMs,
    rho,
    innovation: AR_SD * Math.sqrt(1 - rho * rho),
    baseline,
    daily,
    mean,
    sd,
    typeCdf,
    gapScale,
  };
}

// ---------------------------------------------------------------------------------------------
// Anomaly plans
// ---------------------------------------------------------------------------------------------

/** An episode as planned, before it gets its id. */
interface PlannedEpisode {
  host: number;
  /** 0, 1, … per host. */
  ordinal: number;
  type: number;
  startStep: number;
  /** One past the last step. */
  endStep: number;
  metrics: number[];
  magnitudes: number[];
  /** Assigned when the episode's first record is generated (or by the listing). */
  id: number;
}

/** Draws `count` distinct metric indices (partial Fisher–Yates). */
function pickMetrics(rng: Random, count: number): number[] {
  const pool = Array.from({ length: D }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = rng.nextIntInclusive(i, D - 1);
    const t = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = t;
  }
  return pool.slice(0, count).sort((a, b) => a - b);
}

/** One host's anomaly plan, drawn lazily from its stream (2, h). */
class HostPlanner {
  readonly #fleet: Fleet;
  readonly #host: number;
  readonly #rng: Random;
  readonly #steps: number;
  #ordinal = 0;
  #cursor = 0;
  #done: boolean;

  constructor(fleet: Fleet, host: number, steps: number) {
    this.#fleet = fleet;
    this.#host = host;
    this.#rng = Random.fromSeed(fleet.params.seed, 2, host);
    this.#steps = steps;
    this.#done = fleet.params.anomalyRate === 0;
  }

  /** The host's next episode, or null when there is none before the end. */
  next(): PlannedEpisode | null {
    if (this.#done) return null;
    const rng = this.#rng;
    // Gap of at least one normal record, so no two episodes touch and `stuck` has a value to hold
    const gap = 1 + Math.floor(-Math.log(1 - rng.nextFloat()) * this.#fleet.gapScale);
    const u = rng.nextFloat();
    let type = 0;
    while (type < ANOMALY_TYPES.length - 1 && u >= this.#fleet.typeCdf[type]!) type++;
    const [lo, hi] = type === SPIKE ? SPIKE_LENGTH : EPISODE_LENGTH;
    const length = rng.nextIntInclusive(lo, hi);
    let metrics: number[];
    let magnitudes: number[];
    switch (type) {
      case SPIKE:
        metrics = pickMetrics(rng, rng.nextIntInclusive(1, 3));
        magnitudes = metrics.map(() => rng.nextRange(4, 8));
        break;
      case LEVEL_SHIFT:
        metrics = pickMetrics(rng, rng.nextIntInclusive(1, 3));
        magnitudes = metrics.map(() => rng.nextRange(3, 5));
        break;
      case DRIFT:
        metrics = pickMetrics(rng, 1);
        magnitudes = [6];
        break;
      case NOISE_BURST:
        metrics = pickMetrics(rng, rng.nextIntInclusive(2, 4));
        magnitudes = metrics.map(() => 5);
        break;
      default: // stuck, correlation_break
        metrics = pickMetrics(rng, 1);
        magnitudes = [0];
    }
    const startStep = this.#cursor + gap;
    if (startStep + length > this.#steps) {
      // The episode would run past the end: the plan stops here (no truncated episodes).
      this.#done = true;
      return null;
    }
    this.#cursor = startStep + length;
    return {
      host: this.#host,
      ordinal: this.#ordinal++,
      type,
      startStep,
      endStep: startStep + length,
      metrics,
      magnitudes,
      id: 0,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// The row engine
// ---------------------------------------------------------------------------------------------

/** How episode ids are given: in row order across the fleet (datasets) or from (host, ordinal). */
type IdMode = 'row-order' | 'host-ordinal';

/**
 * Generates rows for a set of hosts (all, or one shard's), time step by time step, keeping every
 * host's state between calls so that rows come out the same whatever the chunking.
 */
class RowEngine {
  readonly #f: Fleet;
  readonly #hostList: Uint32Array;
  readonly #steps: number;
  readonly #startMs: number;
  readonly #idMode: IdMode;
  /** Per host: the xoshiro128** state of its factor and noise stream (1, h), four words each. */
  readonly #states: Int32Array;
  readonly #planners: HostPlanner[];
  readonly #next: (PlannedEpisode | null)[];
  readonly #ar: Float64Array;
  readonly #last: Float64Array;
  /** Per host: the held value of a `stuck` episode and the latent of a `correlation_break`. */
  readonly #held: Float64Array;
  readonly #latent: Float64Array;
  readonly #latentRng: (Random | null)[];
  readonly #draws = new Float64Array(DRAWS);
  #step = 0;
  #pos = 0;
  #rowId = 0;
  #episodeCounter = 0;
  #sin1 = 0;
  #cos1 = 0;
  #sin2 = 0;
  #cos2 = 0;

  constructor(fleet: Fleet, hostList: Uint32Array, steps: number, startMs: number, idMode: IdMode) {
    this.#f = fleet;
    this.#hostList = hostList;
    this.#steps = steps;
    this.#startMs = startMs;
    this.#idMode = idMode;
    const H = fleet.hostCount;
    this.#states = new Int32Array(H * 4);
    this.#planners = new Array<HostPlanner>(H);
    this.#next = new Array<PlannedEpisode | null>(H).fill(null);
    this.#latentRng = new Array<Random | null>(H).fill(null);
    this.#ar = new Float64Array(H * K);
    this.#last = new Float64Array(H * D);
    this.#held = new Float64Array(H);
    this.#latent = new Float64Array(H);
    for (const h of hostList) {
      // Each host's stream starts with its AR state, drawn from the stationary distribution
      const rng = Random.fromSeed(fleet.params.seed, 1, h);
      for (let k = 0; k < K; k++) this.#ar[h * K + k] = AR_SD * rng.nextNormal();
      this.#states.set(rng.state(), h * 4);
      this.#planners[h] = new HostPlanner(fleet, h, steps);
      this.#next[h] = this.#planners[h].next();
    }
    this.#prepareStep();
  }

  /** Rows produced so far. */
  get rowsDone(): number {
    return this.#rowId;
  }

  /** Current time step (the one the next row belongs to). */
  get step(): number {
    return this.#step;
  }

  /** Trigonometry of the daily cycle for the current step, shared by every host. */
  #prepareStep(): void {
    const tsS = (this.#startMs + this.#step * this.#f.intervalMs) / 1000;
    const theta = (2 * Math.PI * (((tsS % DAY_S) + DAY_S) % DAY_S)) / DAY_S;
    this.#sin1 = Math.sin(theta);
    this.#cos1 = Math.cos(theta);
    this.#sin2 = Math.sin(2 * theta);
    this.#cos2 = Math.cos(2 * theta);
  }

  /**
   * Writes up to `max` rows into the chunk's arrays from index `at`; stops early at the end of
   * the dataset or, with `stepOnly`, at the end of the current time step.
   *
   * @returns the number of rows written
   */
  fill(out: TelemetryChunk, at: number, max: number, stepOnly = false): number {
    const f = this.#f;
    const hostList = this.#hostList;
    const nHosts = hostList.length;
    const draws = this.#draws;
    const states = this.#states;
    const ar = this.#ar;
    const last = this.#last;
    const { metrics, isAnomaly, anomalyType, anomalyEpisode } = out;
    const rho = f.rho;
    const innovation = f.innovation;
    let written = 0;
    while (written < max && this.#step < this.#steps) {
      const h = hostList[this.#pos]!;
      const row = at + written;
      const step = this.#step;

      // Latent factors: baseline + daily cycle + AR(1)
      fillNormalsAt(states, h * 4, draws, 0, DRAWS);
      const s1 = this.#sin1;
      const c1 = this.#cos1;
      const s2 = this.#sin2;
      const c2 = this.#cos2;
      const dc = f.daily;
      const hk = h * K;
      const d0 = hk * 4;
      const a0 = (ar[hk] = rho * ar[hk]! + innovation * draws[0]!);
      const a1 = (ar[hk + 1] = rho * ar[hk + 1]! + innovation * draws[1]!);
      const a2 = (ar[hk + 2] = rho * ar[hk + 2]! + innovation * draws[2]!);
      const F0 = f.baseline[hk]! + dc[d0]! * s1 + dc[d0 + 1]! * c1 + dc[d0 + 2]! * s2 + dc[d0 + 3]! * c2 + a0;
      const F1 =
        f.baseline[hk + 1]! + dc[d0 + 4]! * s1 + dc[d0 + 5]! * c1 + dc[d0 + 6]! * s2 + dc[d0 + 7]! * c2 + a1;
      const F2 =
        f.baseline[hk + 2]! +
        dc[d0 + 8]! * s1 +
        dc[d0 + 9]! * c1 +
        dc[d0 + 10]! * s2 +
        dc[d0 + 11]! * c2 +
        a2;

      // The anomaly under way on this host, if any; its first record sets it up (a `stuck`
      // episode reads the previous record, so this comes before `last` is overwritten)
      let ep = this.#next[h] ?? null;
      if (ep !== null && step >= ep.endStep) ep = this.#next[h] = this.#planners[h]!.next();
      const active = ep !== null && step >= ep.startStep ? ep : null;
      if (active !== null && step === active.startStep) this.#startEpisode(active, h);

      // Metrics: linear in the factors plus small independent noise, clipped at physical limits
      const mo = row * D;
      const hd = h * D;
      for (let j = 0; j < D; j++) {
        const x = MU[j]! + L0[j]! * F0 + L1[j]! * F1 + L2[j]! * F2 + NS[j]! * draws[K + j]!;
        const v = x < LO[j]! ? LO[j]! : x > HI[j]! ? HI[j]! : x;
        metrics[mo + j] = v;
        last[hd + j] = v;
      }

      // Labels, and the anomaly applied over the normal values
      if (active !== null) {
        this.#applyAnomaly(active, h, step, metrics, mo);
        isAnomaly[row] = 1;
        anomalyType[row] = active.type;
        anomalyEpisode[row] = active.id;
      } else {
        isAnomaly[row] = 0;
        anomalyType[row] = -1;
        anomalyEpisode[row] = -1;
      }
      out.ts[row] = this.#startMs + step * f.intervalMs;
      out.host[row] = h;

      written++;
      this.#rowId++;
      if (++this.#pos === nHosts) {
        this.#pos = 0;
        this.#step++;
        this.#prepareStep();
        if (stepOnly) break;
      }
    }
    return written;
  }

  /** Overwrites the row's metrics (already holding the normal values) with the episode's. */
  #applyAnomaly(ep: PlannedEpisode, h: number, step: number, metrics: Float64Array, mo: number): void {
    const f = this.#f;
    const hd = h * D;
    const i = step - ep.startStep;
    for (let m = 0; m < ep.metrics.length; m++) {
      const j = ep.metrics[m]!;
      const sigma = f.sd[hd + j]!;
      const v = metrics[mo + j]!;
      let x: number;
      switch (ep.type) {
        case SPIKE:
        case LEVEL_SHIFT:
          x = v + ep.magnitudes[m]! * sigma;
          break;
        case DRIFT:
          x = v + (ep.magnitudes[m]! * sigma * (i + 1)) / (ep.endStep - ep.startStep);
          break;
        case STUCK:
          x = this.#held[h]!;
          break;
        case NOISE_BURST:
          // The record's own noise draw, (factor − 1) more times
          x = v + (ep.magnitudes[m]! - 1) * NOISE_SD[j]! * this.#draws[K + j]!;
          break;
        default: {
          // correlation_break: an independent AR(1) latent with the metric's mean and spread
          let z = this.#latent[h]!;
          if (i > 0) {
            const rho = f.rho;
            z = rho * z + Math.sqrt(1 - rho * rho) * this.#latentRng[h]!.nextNormal();
            this.#latent[h] = z;
          }
          const mu = f.mean[hd + j]!;
          const lo = Math.max(LOWER[j]!, mu - NORMAL_RANGE_SIGMA * sigma);
          const hi = Math.min(UPPER[j]!, mu + NORMAL_RANGE_SIGMA * sigma);
          x = Math.min(hi, Math.max(lo, mu + sigma * z));
        }
      }
      metrics[mo + j] = x < LO[j]! ? LO[j]! : x > HI[j]! ? HI[j]! : x;
    }
  }

  /** First record of an episode: give it its id and set up what it holds. */
  #startEpisode(ep: PlannedEpisode, h: number): void {
    const H = this.#f.hostCount;
    ep.id =
      this.#idMode === 'row-order'
        ? ++this.#episodeCounter
        : // live streams: unique per (host, ordinal) whatever the shard; wraps after 2³¹ − 1
          ((ep.ordinal * H + h) % 2147483646) + 1;
    if (ep.type === STUCK) {
      // The previous record of this host was normal (episodes never touch)
      this.#held[h] = this.#last[h * D + ep.metrics[0]!]!;
    } else if (ep.type === CORRELATION_BREAK) {
      const rng = Random.fromSeed(this.#f.params.seed, 3, h, ep.ordinal);
      this.#latentRng[h] = rng;
      this.#latent[h] = rng.nextNormal();
    }
  }
}

/** Allocates an empty chunk of `n` rows. */
function allocChunk(n: number, firstRowId: number): TelemetryChunk {
  return {
    firstRowId,
    length: n,
    ts: new Float64Array(n),
    host: new Uint32Array(n),
    metrics: new Float64Array(n * D),
    isAnomaly: new Uint8Array(n),
    anomalyType: new Int8Array(n),
    anomalyEpisode: new Int32Array(n),
  };
}

/** Shrinks a chunk to its first `n` rows (views, no copy). */
function truncateChunk(c: TelemetryChunk, n: number): TelemetryChunk {
  if (n === c.length) return c;
  return {
    firstRowId: c.firstRowId,
    length: n,
    ts: c.ts.subarray(0, n),
    host: c.host.subarray(0, n),
    metrics: c.metrics.subarray(0, n * D),
    isAnomaly: c.isAnomaly.subarray(0, n),
    anomalyType: c.anomalyType.subarray(0, n),
    anomalyEpisode: c.anomalyEpisode.subarray(0, n),
  };
}

// ---------------------------------------------------------------------------------------------
// Validation helpers
// ---------------------------------------------------------------------------------------------

/**
 * Parses library parameters, turning zod's issues into a ValidationError naming each field.
 *
 * @param params - camelCase parameters (every field optional; already parsed ones pass through)
 * @returns the parameters with every default filled in
 * @throws ValidationError naming each field that is out of range or of the wrong type
 * @example
 * const p = parseGenerateParams({ hostCount: 10, durationS: 3600, seed: 1 });
 */
export function parseGenerateParams(
  params: GenerateParamsInput | GenerateParams | undefined,
): GenerateParams {
  const res = GenerateParamsSchema.safeParse(params ?? {});
  if (res.success) return res.data;
  const issues = res.error.issues.map((i) => ({
    path: i.path.map(String).join('.') || '(params)',
    message: i.message,
  }));
  throw new ValidationError(issues.map((i) => i.message).join('; '), issues);
}

function checkChunkRows(v: unknown): number {
  if (v === undefined) return DEFAULT_CHUNK_ROWS;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_CHUNK_ROWS) {
    throw new RangeError(
      `chunkRows must be an integer in [1, ${MAX_CHUNK_ROWS}]; got ${typeof v === 'number' ? v : typeof v}`,
    );
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------------------------

/**
 * A deterministic synthetic telemetry dataset: same parameters and seed → identical rows.
 *
 * Nothing is generated until {@link GeneratedTelemetry.chunks} is iterated; memory stays at a
 * few arrays per host plus one chunk, whatever the dataset's size.
 *
 * @param params - generation parameters (camelCase, all optional; see {@link GenerateParamsInput}
 *   and `GENERATOR_LIMITS` for defaults and ranges); validated again even if already parsed
 * @param options - `chunkRows`: rows per chunk, [1, 1 000 000], default 65 536
 * @returns the fleet, sizes, a chunk stream (each chunk `length` × 8 metrics, row-major), the
 *   episode list and per-host normal statistics
 * @throws ValidationError when a parameter is out of range or unknown (the message names it,
 *   what was expected and what arrived); RangeError for a bad `chunkRows`
 * @example
 * const data = generateTelemetry({ hostCount: 20, durationS: 3600 });
 * for (const chunk of data.chunks()) console.log(chunk.firstRowId, chunk.length);
 */
export function generateTelemetry(
  params?: GenerateParamsInput | GenerateParams,
  options: GenerateOptions = {},
): GeneratedTelemetry {
  // Validate
  const p = parseGenerateParams(params);
  const chunkRows = checkChunkRows(options.chunkRows);
  const fleet = buildFleet(p);
  const steps = stepCount(p);
  const totalRows = steps * p.hostCount;
  const startMs = Date.parse(p.start);
  const allHosts = Uint32Array.from({ length: p.hostCount }, (_, i) => i);

  return {
    params: p,
    hosts: fleet.hosts.map((h) => ({ ...h })),
    steps,
    totalRows,
    startMs,
    intervalMs: fleet.intervalMs,
    *chunks() {
      const engine = new RowEngine(fleet, allHosts, steps, startMs, 'row-order');
      while (engine.rowsDone < totalRows) {
        const first = engine.rowsDone;
        const n = Math.min(chunkRows, totalRows - first);
        const chunk = allocChunk(n, first);
        engine.fill(chunk, 0, n);
        yield chunk;
      }
    },
    episodes() {
      // The same plans as generation, drawn without the rows; ids in order of first record.
      const all: PlannedEpisode[] = [];
      for (let h = 0; h < p.hostCount; h++) {
        const planner = new HostPlanner(fleet, h, steps);
        for (let ep = planner.next(); ep !== null; ep = planner.next()) all.push(ep);
      }
      all.sort((a, b) => a.startStep - b.startStep || a.host - b.host);
      return all.map((e, i) => ({
        id: i + 1,
        host: e.host,
        type: ANOMALY_TYPES[e.type]!,
        startStep: e.startStep,
        length: e.endStep - e.startStep,
        metrics: [...e.metrics],
        magnitudes: [...e.magnitudes],
      }));
    },
    hostStats(host: number) {
      if (!Number.isInteger(host) || host < 0 || host >= p.hostCount) {
        throw new RangeError(`host must be an integer in [0, ${p.hostCount - 1}]; got ${host}`);
      }
      return {
        mean: fleet.mean.slice(host * D, host * D + D),
        sd: fleet.sd.slice(host * D, host * D + D),
      };
    },
  };
}

/** Options of {@link liveTelemetry}. */
export interface LiveOptions {
  /** Only the hosts of shard `index` of `count` (FNV-1a 32-bit of host_id mod count). */
  shard?: { index: number; count: number };
  /**
   * Timestamp of the first time step, ms since the epoch (default: now, rounded down to the
   * interval). The live stream ignores `params.start` and `params.durationS`: it never ends.
   */
  startMs?: number;
}

/** A never-ending stream of live telemetry, one time step at a time. */
export interface LiveTelemetry {
  params: GenerateParams;
  /** The whole fleet (a chunk's `host` indexes it). */
  hosts: HostInfo[];
  /** Indices of the hosts this stream produces (all, or the shard's), ascending. */
  hostIndices: number[];
  startMs: number;
  intervalMs: number;
  /** The next time step's records for the stream's hosts (`firstRowId` counts this stream's rows). */
  nextStep(): TelemetryChunk;
}

/**
 * Live telemetry for `StreamTelemetry`: the same model as {@link generateTelemetry}, from
 * `startMs` onwards without an end, optionally for one shard's hosts only. Each host's rows are
 * the same whatever the sharding; episode ids are `ordinal · hostCount + hostIndex + 1`, unique
 * per (host, episode) and independent of the sharding.
 *
 * @param params - generation parameters (as {@link generateTelemetry})
 * @param options - shard and start time
 * @throws ValidationError for bad parameters; RangeError for a bad shard or start time
 * @example
 * const live = liveTelemetry({ hostCount: 100 }, { shard: { index: 0, count: 4 } });
 * const batch = live.nextStep(); // ~25 records, one per host of shard 0
 */
export function liveTelemetry(
  params?: GenerateParamsInput | GenerateParams,
  options: LiveOptions = {},
): LiveTelemetry {
  const p = parseGenerateParams(params);
  const fleet = buildFleet(p);
  const count = options.shard?.count ?? 1;
  const index = options.shard?.index ?? 0;
  if (!Number.isInteger(count) || count < 1 || count > 1_000_000) {
    throw new RangeError(`shard.count must be an integer in [1, 1000000]; got ${count}`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new RangeError(`shard.index must be an integer in [0, ${count - 1}]; got ${index}`);
  }
  const startMs = options.startMs ?? Math.floor(Date.now() / fleet.intervalMs) * fleet.intervalMs;
  if (!Number.isFinite(startMs) || startMs < 0 || startMs > Date.UTC(2200, 0, 1)) {
    throw new RangeError(`startMs must be a time in ms between 1970 and 2200; got ${startMs}`);
  }
  const hostIndices: number[] = [];
  for (let h = 0; h < p.hostCount; h++)
    if (ownsHost(fleet.hosts[h]!.hostId, index, count)) hostIndices.push(h);
  const engine = new RowEngine(fleet, Uint32Array.from(hostIndices), Infinity, startMs, 'host-ordinal');
  return {
    params: p,
    hosts: fleet.hosts.map((h) => ({ ...h })),
    hostIndices,
    startMs,
    intervalMs: fleet.intervalMs,
    nextStep() {
      const chunk = allocChunk(hostIndices.length, engine.rowsDone);
      const n = hostIndices.length === 0 ? 0 : engine.fill(chunk, 0, hostIndices.length, true);
      return truncateChunk(chunk, n);
    },
  };
}
