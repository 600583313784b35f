/**
 * The order-preserving float64 key (src/core/stats/float-key.ts) against a reference computed
 * through a DataView in explicit big-endian order and BigInt arithmetic, so that nothing in the
 * reference depends on the machine's byte order: the word indexes, the keys, their order (NaN
 * with its sign bit set first, then −Infinity … −0 < +0 … +Infinity, NaN last), and the way back
 * bit for bit.
 */
import { endianness } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  HI_WORD,
  keyHi,
  keyHighOf,
  keyLo,
  keyOf,
  LO_WORD,
  putValueOfKey,
  valueOfKey,
} from '../../../src/core/stats/float-key.js';
import { Random } from '../../../src/core/random.js';

const SIGN = 1n << 63n;
const MASK = (1n << 64n) - 1n;

/** The 64 bits of v, read in big-endian order whatever the machine. */
function bitsOf(v: number): bigint {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, v);
  return dv.getBigUint64(0);
}

/** The double of 64 bits. */
function valueOfBits(bits: bigint): number {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setBigUint64(0, bits);
  return dv.getFloat64(0);
}

/** The key by definition: every bit flipped when the sign bit is set, else the sign bit set. */
function referenceKey(bits: bigint): bigint {
  return bits & SIGN ? ~bits & MASK : bits | SIGN;
}

/** keyOf as one 64-bit integer. */
function keyOfValue(v: number): bigint {
  const out = new Uint32Array(2);
  keyOf(v, out);
  return (BigInt(out[0]!) << 32n) | BigInt(out[1]!);
}

const NEG_NAN = valueOfBits(0xfff8000000000000n);

// Ascending: NaN with its sign bit set, −Infinity, negatives, −0, +0, subnormals, positives,
// +Infinity, NaN.
const ASCENDING = [
  NEG_NAN,
  -Infinity,
  -Number.MAX_VALUE,
  -1e10,
  -1,
  -Number.MIN_VALUE * 2 ** 52, // the least normal, negated
  -1e-310,
  -Number.MIN_VALUE,
  -0,
  0,
  Number.MIN_VALUE,
  1e-310,
  2 ** -1022,
  1,
  1 + Number.EPSILON,
  1e10,
  Number.MAX_VALUE,
  Infinity,
  NaN,
];

describe('float64 keys', () => {
  it('finds the word order of this machine', () => {
    expect(HI_WORD).toBe(endianness() === 'LE' ? 1 : 0);
    expect(LO_WORD).toBe(1 - HI_WORD);
    const words = new Uint32Array(new Float64Array([1]).buffer);
    expect(words[HI_WORD]).toBe(0x3ff00000);
    expect(words[LO_WORD]).toBe(0);
  });

  it('keys every value as the definition does, in numeric order, NaN handled apart', () => {
    for (const v of ASCENDING) {
      const key = referenceKey(bitsOf(v));
      expect(keyOfValue(v), String(v)).toBe(key);
      expect(keyHighOf(v), String(v)).toBe(Number(key >> 32n));
    }
    const keys = ASCENDING.map(keyOfValue);
    for (let i = 1; i < keys.length; i++) {
      expect(keys[i]! > keys[i - 1]!, `${ASCENDING[i - 1]} < ${ASCENDING[i]}`).toBe(true);
    }
    // −0 and +0 are neighbours; +Infinity's key sits just below the ordinary NaN's.
    expect(keyOfValue(0) - keyOfValue(-0)).toBe(1n);
    expect(keyOfValue(Infinity)).toBe(0xfff0000000000000n);
    expect(keyOfValue(NaN)).toBe(0xfff8000000000000n);
    expect(keyOfValue(NEG_NAN)).toBe(0x0007ffffffffffffn);
  });

  it('orders random doubles as their numbers and goes back bit for bit', () => {
    const rng = Random.fromSeed(21);
    const word = () => Math.floor(rng.nextFloat() * 2 ** 32);
    const values: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const bits = (BigInt(word()) << 32n) | BigInt(word());
      values.push(valueOfBits(bits));
      // The same through the word functions: key words and back.
      const hi = Number(bits >> 32n);
      const lo = Number(bits & 0xffffffffn);
      const key = referenceKey(bits);
      const kh = Number(key >> 32n);
      const kl = Number(key & 0xffffffffn);
      expect([keyHi(hi), keyLo(hi, lo)]).toEqual([kh, kl]);
      const back = new Uint32Array(4);
      putValueOfKey(back, 1, kh, kl);
      expect([back[2 + HI_WORD], back[2 + LO_WORD]]).toEqual([hi, lo]);
    }
    for (const v of [...values, ...ASCENDING]) {
      const k = keyOfValue(v);
      expect(bitsOf(valueOfKey(Number(k >> 32n), Number(k & 0xffffffffn)))).toBe(bitsOf(v));
    }
    const numbers = values.filter((v) => !Number.isNaN(v));
    const byKey = [...numbers].sort((a, b) => {
      const d = keyOfValue(a) - keyOfValue(b);
      return d < 0n ? -1 : d > 0n ? 1 : 0;
    });
    expect(byKey).toEqual([...numbers].sort((a, b) => a - b));
  });
});
