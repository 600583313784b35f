/**
 * The pseudo-random numbers behind TADS's deterministic generator. Never `Math.random`: every
 * draw comes from a specified algorithm, so the same seed gives the same numbers on any machine
 * running the same Node major version (V8's `Math.log`/`Math.exp`/`Math.sqrt` are its own
 * correctly-specified ports, identical across platforms).
 *
 * - Uniform bits: **xoshiro128\*\*** (Blackman & Vigna, 2018), 128 bits of state, 32-bit output.
 * - Seeding: a stream key `(seed, ...stream)` is hashed with MurmurHash3's `fmix32` finaliser
 *   into a 32-bit value that seeds **SplitMix32** (a Weyl sequence with increment 0x9e3779b9,
 *   each output passed through `fmix32`), whose first four outputs are the xoshiro state. Streams
 *   with different keys are independent for every practical purpose, so each host (and each
 *   anomaly plan) draws from a stream of its own and chunking never changes the output.
 * - Uniform doubles: 53 random bits (the top 27 of one output and the top 26 of the next), in
 *   [0, 1).
 * - Normal deviates: the **Ziggurat** method of Marsaglia & Tsang (2000), 128 layers, with their
 *   tail algorithm; tables are built once at module load.
 *
 * State lives in an `Int32Array` (not object fields) so that V8 keeps the 32-bit words unboxed.
 */
import { describe } from './check.js';

/** Largest seed accepted: seeds are non-negative safe integers. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

/**
 * MurmurHash3's 32-bit finaliser: a bijective avalanche mix of a 32-bit word.
 *
 * @param x - any 32-bit pattern (only the low 32 bits are used)
 * @returns the mixed word as an unsigned integer in [0, 2³²)
 * @example
 * fmix32(1); // 0x514e28b7
 */
export function fmix32(x: number): number {
  let h = x | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Hashes a stream key into a 32-bit SplitMix32 seed. Each word is folded in with an added
 * constant so that zero words still change the hash.
 */
function keyHash(seed: number, stream: readonly number[]): number {
  let h = 0x243f6a88; // the first digits of π: an arbitrary non-zero start
  const words = [seed % 0x1_0000_0000, Math.floor(seed / 0x1_0000_0000), stream.length, ...stream];
  for (const w of words) h = fmix32(((h ^ (w >>> 0)) + 0x9e3779b9) | 0);
  return h;
}

// ---------------------------------------------------------------------------------------------
// Ziggurat tables (Marsaglia & Tsang 2000, "The Ziggurat Method for Generating Random
// Variables", 128 layers for the normal density). kn: integer acceptance bounds, wn: layer
// widths scaled by 2⁻³¹, fn: the density at each layer's edge.
// ---------------------------------------------------------------------------------------------
const ZIG_R = 3.442619855899; // start of the tail
const ZIG_KN = new Int32Array(128);
const ZIG_WN = new Float64Array(128);
const ZIG_FN = new Float64Array(128);
{
  const m1 = 2147483648; // 2³¹
  const vn = 9.91256303526217e-3; // area of each layer
  let dn = ZIG_R;
  let tn = dn;
  const q = vn / Math.exp(-0.5 * dn * dn);
  ZIG_KN[0] = Math.floor((dn / q) * m1);
  ZIG_KN[1] = 0;
  ZIG_WN[0] = q / m1;
  ZIG_WN[127] = dn / m1;
  ZIG_FN[0] = 1;
  ZIG_FN[127] = Math.exp(-0.5 * dn * dn);
  for (let i = 126; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(vn / dn + Math.exp(-0.5 * dn * dn)));
    ZIG_KN[i + 1] = Math.floor((dn / tn) * m1);
    tn = dn;
    ZIG_FN[i] = Math.exp(-0.5 * dn * dn);
    ZIG_WN[i] = dn / m1;
  }
}

/** Checks a seed: a non-negative safe integer. */
function checkSeed(seed: unknown): number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be an integer in [0, ${MAX_SEED}]; got ${describe(seed)}`);
  }
  return seed;
}

// ---------------------------------------------------------------------------------------------
// Primitives over a state held at s[b … b + 4): shared by Random and by hot loops that keep many
// streams in one Int32Array (the generator keeps one per host).
// ---------------------------------------------------------------------------------------------

/** One xoshiro128** step: the next 32 bits as a signed integer. */
function stepAt(s: Int32Array, b: number): number {
  const s1 = s[b + 1]!;
  const b5 = Math.imul(s1, 5);
  const result = Math.imul((b5 << 7) | (b5 >>> 25), 9);
  const t = s1 << 9;
  const s2 = s[b + 2]! ^ s[b]!;
  const s3 = s[b + 3]! ^ s1;
  s[b + 1] = s1 ^ s2;
  s[b] = s[b]! ^ s3;
  s[b + 2] = s2 ^ t;
  s[b + 3] = (s3 << 11) | (s3 >>> 21);
  return result;
}

/** A uniform double in [0, 1) with 53 random bits. */
function floatAt(s: Int32Array, b: number): number {
  const hi = stepAt(s, b) >>> 5;
  const lo = stepAt(s, b) >>> 6;
  return (hi * 67108864 + lo) / 9007199254740992;
}

/** The Ziggurat's rejection and tail steps (Marsaglia & Tsang's `nfix`). */
function normalSlowAt(s: Int32Array, b: number, hz: number, iz: number): number {
  for (;;) {
    let x = hz * ZIG_WN[iz]!;
    if (iz === 0) {
      // Tail beyond ZIG_R: Marsaglia's exponential-rejection method
      let y: number;
      do {
        x = -Math.log(1 - floatAt(s, b)) / ZIG_R;
        y = -Math.log(1 - floatAt(s, b));
      } while (y + y < x * x);
      return hz > 0 ? ZIG_R + x : -ZIG_R - x;
    }
    // Wedge between layers: accept under the density
    if (ZIG_FN[iz]! + floatAt(s, b) * (ZIG_FN[iz - 1]! - ZIG_FN[iz]!) < Math.exp(-0.5 * x * x)) return x;
    hz = stepAt(s, b);
    iz = hz & 127;
    if (Math.abs(hz) < ZIG_KN[iz]!) return hz * ZIG_WN[iz]!;
  }
}

/**
 * Fills `out[offset … offset + count)` with standard normal deviates from the xoshiro128** state
 * at `states[base … base + 4)` — the numbers a {@link Random} with that state would give. For hot
 * loops over many streams kept in one array; unchecked: the caller guarantees the ranges (use
 * {@link Random.fillNormal} otherwise).
 *
 * @param states - xoshiro128** states, four words each
 * @param base - index of this stream's first word
 * @param out - destination
 * @param offset - first index written
 * @param count - number of deviates
 */
export function fillNormalsAt(
  states: Int32Array,
  base: number,
  out: Float64Array,
  offset: number,
  count: number,
): void {
  let s0 = states[base]!;
  let s1 = states[base + 1]!;
  let s2 = states[base + 2]!;
  let s3 = states[base + 3]!;
  const end = offset + count;
  for (let i = offset; i < end; i++) {
    // xoshiro128** step, inlined
    const b5 = Math.imul(s1, 5);
    const hz = Math.imul((b5 << 7) | (b5 >>> 25), 9);
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    // Ziggurat fast path (about 98.8 % of draws)
    const iz = hz & 127;
    if (Math.abs(hz) < ZIG_KN[iz]!) {
      out[i] = hz * ZIG_WN[iz]!;
      continue;
    }
    // Slow path: hand the state back, draw, take it again
    states[base] = s0;
    states[base + 1] = s1;
    states[base + 2] = s2;
    states[base + 3] = s3;
    out[i] = normalSlowAt(states, base, hz, iz);
    s0 = states[base]!;
    s1 = states[base + 1]!;
    s2 = states[base + 2]!;
    s3 = states[base + 3]!;
  }
  states[base] = s0;
  states[base + 1] = s1;
  states[base + 2] = s2;
  states[base + 3] = s3;
}

/**
 * A xoshiro128** stream with uniform, integer and normal draws.
 *
 * @example
 * const rng = Random.fromSeed(42, 1, 7); // stream (1, 7) of seed 42
 * rng.nextFloat();  // in [0, 1)
 * rng.nextNormal(); // standard normal
 */
export class Random {
  /** The four 32-bit words of xoshiro128** state. */
  readonly #s: Int32Array;

  /**
   * The stream identified by `seed` and the stream words (the same as {@link Random.fromSeed}).
   *
   * @param seed - a non-negative safe integer in [0, {@link MAX_SEED}]
   * @param stream - words naming the stream (each taken modulo 2³²), e.g. `(domain, hostIndex)`
   * @throws RangeError when `seed` is not a non-negative safe integer or a stream word is not an
   *   integer
   * @example
   * const rng = new Random(42);
   */
  constructor(seed: number, ...stream: number[]) {
    checkSeed(seed);
    for (let i = 0; i < stream.length; i++) {
      if (!Number.isInteger(stream[i])) {
        throw new RangeError(`stream[${i}] must be an integer; got ${describe(stream[i])}`);
      }
    }
    // SplitMix32 from the key's hash fills the state; an all-zero state (a fixed point of
    // xoshiro) is replaced, though four consecutive SplitMix32 outputs are never all zero.
    let x = keyHash(seed, stream);
    const s = new Int32Array(4);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) | 0;
      s[i] = fmix32(x);
    }
    if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 1;
    this.#s = s;
  }

  /**
   * The stream identified by `seed` and the stream words.
   *
   * @param seed - a non-negative safe integer in [0, {@link MAX_SEED}]
   * @param stream - words naming the stream (each taken modulo 2³²), e.g. `(domain, hostIndex)`
   * @throws RangeError as the constructor
   */
  static fromSeed(seed: number, ...stream: number[]): Random {
    return new Random(seed, ...stream);
  }

  /**
   * A stream from an explicit xoshiro128** state (four 32-bit words, not all zero): for
   * reproducing published test vectors and for saving and restoring a stream.
   *
   * @throws RangeError when `words` is not four integers in [0, 2³²) or all are zero
   */
  static fromState(words: readonly number[]): Random {
    if (
      !Array.isArray(words) ||
      words.length !== 4 ||
      !words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)
    ) {
      throw new RangeError(`words must be four integers in [0, 4294967295]; got ${describe(words)}`);
    }
    if (words.every((w) => w === 0)) throw new RangeError('words must not all be zero; got [0, 0, 0, 0]');
    const r = new Random(0);
    r.#s.set(Int32Array.from(words, (w) => w | 0));
    return r;
  }

  /** The current state as four unsigned 32-bit words (see {@link Random.fromState}). */
  state(): [number, number, number, number] {
    const s = this.#s;
    return [s[0]! >>> 0, s[1]! >>> 0, s[2]! >>> 0, s[3]! >>> 0];
  }

  /** The next 32 random bits as a signed 32-bit integer. */
  nextInt32(): number {
    return stepAt(this.#s, 0);
  }

  /** The next 32 random bits as an unsigned integer in [0, 2³²). */
  nextUint32(): number {
    return this.nextInt32() >>> 0;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    return floatAt(this.#s, 0);
  }

  /**
   * A uniform double in [lo, hi).
   *
   * @throws RangeError when the bounds are not finite or `hi < lo`
   */
  nextRange(lo: number, hi: number): number {
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi < lo) {
      throw new RangeError(`nextRange needs finite lo ≤ hi; got lo=${lo}, hi=${hi}`);
    }
    return lo + (hi - lo) * this.nextFloat();
  }

  /**
   * A uniform integer in [lo, hi] (inclusive), by scaling a 53-bit uniform (bias below 2⁻³⁰
   * for spans under 2²³).
   *
   * @throws RangeError when the bounds are not safe integers or `hi < lo`
   */
  nextIntInclusive(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi < lo) {
      throw new RangeError(`nextIntInclusive needs integers lo ≤ hi; got lo=${lo}, hi=${hi}`);
    }
    return lo + Math.floor(this.nextFloat() * (hi - lo + 1));
  }

  /** A standard normal deviate (mean 0, variance 1) by the Ziggurat method. */
  nextNormal(): number {
    const hz = this.nextInt32();
    const iz = hz & 127;
    if (Math.abs(hz) < ZIG_KN[iz]!) return hz * ZIG_WN[iz]!;
    return normalSlowAt(this.#s, 0, hz, iz);
  }

  /**
   * Fills `out[offset … offset + count)` with standard normal deviates: the same numbers as
   * `count` calls of {@link nextNormal}, faster (the state stays in registers on the fast path).
   *
   * @param out - the destination
   * @param offset - first index written (integer ≥ 0)
   * @param count - how many deviates (integer ≥ 0, `offset + count ≤ out.length`)
   * @throws RangeError when the span does not fit in `out`
   */
  fillNormal(out: Float64Array, offset: number, count: number): void {
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(count) ||
      offset < 0 ||
      count < 0 ||
      offset + count > out.length
    ) {
      throw new RangeError(
        `fillNormal needs 0 ≤ offset, 0 ≤ count and offset + count ≤ ${out.length}; got offset=${offset}, count=${count}`,
      );
    }
    fillNormalsAt(this.#s, 0, out, offset, count);
  }
}
