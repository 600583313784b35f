/**
 * The order-preserving key of a double: a 64-bit unsigned integer whose unsigned order is the
 * numeric order of the values — every bit flipped for a double whose sign bit is set, the sign
 * bit set for the others. JavaScript numbers hold 53 bits, so a key travels as two unsigned
 * 32-bit words, high and low.
 *
 * Key order: NaN with its sign bit set < −Infinity < negatives < −0 < +0 < subnormals <
 * positives < +Infinity < NaN (the ordinary NaN is last, as `Float64Array.prototype.sort` and
 * PostgreSQL's float8 order it).
 *
 * Hot loops read a double's two words straight from a Uint32Array over its Float64Array; which
 * of the two is the high one follows the machine's byte order, found once here
 * ({@link HI_WORD}, {@link LO_WORD}), so the keys are the same on every machine.
 */

// The word order, as module constants: the compiler folds those into the loops that use them (it
// does not fold an exported binding). A module importing the indexes copies them into constants
// of its own for the same reason.
const HI = new Uint32Array(new Float64Array([1]).buffer)[1] === 0x3ff00000 ? 1 : 0;
const LO = 1 - HI;

/**
 * Index of a double's high 32-bit word (sign, exponent and the top 20 bits of the mantissa) in a
 * Uint32Array over it: 1 on a little-endian machine, 0 on a big-endian one.
 */
export const HI_WORD: 0 | 1 = HI;

/** Index of a double's low 32-bit word in a Uint32Array over it (the other one). */
export const LO_WORD = LO as 0 | 1;

/** The key's high word, from the double's high word `hi` (unsigned, as a Uint32Array holds it). */
export function keyHi(hi: number): number {
  return hi >= 0x80000000 ? ~hi >>> 0 : (hi | 0x80000000) >>> 0;
}

/** The key's low word, from the double's high word `hi` (its sign decides) and low word `lo`. */
export function keyLo(hi: number, lo: number): number {
  return hi >= 0x80000000 ? ~lo >>> 0 : lo;
}

/**
 * Writes the double whose key is (kh, kl) as double number `i` of `words`, a Uint32Array over a
 * Float64Array: the inverse of {@link keyHi} and {@link keyLo}.
 */
export function putValueOfKey(words: Uint32Array, i: number, kh: number, kl: number): void {
  if (kh >= 0x80000000) {
    words[2 * i + HI] = kh - 0x80000000;
    words[2 * i + LO] = kl;
  } else {
    words[2 * i + HI] = ~kh >>> 0;
    words[2 * i + LO] = ~kl >>> 0;
  }
}

// One double and its two words, for the conversions of single values below.
const scratchF64 = new Float64Array(1);
const scratchU32 = new Uint32Array(scratchF64.buffer);

/** The high word of v's key (the top 32 of its 64 bits). */
export function keyHighOf(v: number): number {
  scratchF64[0] = v;
  return keyHi(scratchU32[HI]!);
}

/** Writes v's key into `out`: out[0] the high word, out[1] the low word. */
export function keyOf(v: number, out: Uint32Array): void {
  scratchF64[0] = v;
  const h = scratchU32[HI]!;
  out[0] = keyHi(h);
  out[1] = keyLo(h, scratchU32[LO]!);
}

/** The double whose key is (kh, kl): the inverse of {@link keyOf}. */
export function valueOfKey(kh: number, kl: number): number {
  putValueOfKey(scratchU32, 0, kh, kl);
  return scratchF64[0]!;
}
