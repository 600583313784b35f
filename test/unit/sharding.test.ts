import { describe, expect, it } from 'vitest';
import { fnv1a32, ownsHost, shardOf } from '../../src/core/sharding.js';

/** FNV-1a straight from its definition, in BigInt arithmetic over the UTF-8 bytes. */
function referenceFnv1a(s: string): number {
  let h = 2166136261n;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= BigInt(b);
    h = (h * 16777619n) % 2n ** 32n;
  }
  return Number(h);
}

describe('fnv1a32', () => {
  it('rejects a non-string', () => {
    expect(() => fnv1a32(42 as unknown as string)).toThrow(new TypeError('s must be a string; got 42'));
  });

  it('matches hand-computed vectors', () => {
    // "" hashes to the offset basis itself.
    expect(fnv1a32('')).toBe(2166136261);
    // "a": (0x811c9dc5 ^ 0x61) = 0x811c9da4; × 0x01000193 mod 2³² = 0xe40c292c.
    expect(fnv1a32('a')).toBe(0xe40c292c);
    // Published FNV-1a 32 vector.
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes UTF-8 bytes, also outside ASCII', () => {
    for (const s of ['host-0001', 'é', 'hôte-Ω-7', '日本-host', '🙂']) {
      expect(fnv1a32(s)).toBe(referenceFnv1a(s));
    }
    // "é" is two UTF-8 bytes (c3 a9), not one code unit 0xe9.
    expect(fnv1a32('é')).not.toBe(Math.imul(0x811c9dc5 ^ 0xe9, 0x01000193) >>> 0);
  });
});

describe('shardOf and ownsHost', () => {
  it('reject bad arguments, naming them', () => {
    expect(() => shardOf('', 2)).toThrow(new RangeError('hostId must be a non-empty string; got ""'));
    expect(() => shardOf(7 as unknown as string, 2)).toThrow(new TypeError('hostId must be a string; got 7'));
    expect(() => shardOf('h', 0)).toThrow(
      new RangeError('count must be an integer in [1, 4294967295]; got 0'),
    );
    expect(() => shardOf('h', 1.5)).toThrow(/count must be an integer .*; got 1.5/);
    expect(() => ownsHost('h', 3, 3)).toThrow(new RangeError('index must be an integer in [0, 2]; got 3'));
    expect(() => ownsHost('h', -1, 3)).toThrow(/index must be an integer in \[0, 2\]; got -1/);
  });

  it('is the hash mod count', () => {
    expect(shardOf('a', 7)).toBe(0xe40c292c % 7);
    expect(ownsHost('a', 0xe40c292c % 5, 5)).toBe(true);
  });

  const hosts = Array.from({ length: 5000 }, (_, i) => `host-${String(i).padStart(5, '0')}`);

  for (let count = 1; count <= 8; count++) {
    it(`${count} shard(s) are disjoint, cover every host and are roughly balanced`, () => {
      const sizes = new Array<number>(count).fill(0);
      for (const h of hosts) {
        const owners = [];
        for (let i = 0; i < count; i++) if (ownsHost(h, i, count)) owners.push(i);
        // Checked without expect() per host to keep the loop cheap; a failure still reports.
        if (owners.length !== 1 || owners[0] !== shardOf(h, count)) {
          expect({ host: h, owners }).toEqual({ host: h, owners: [shardOf(h, count)] });
        }
        sizes[owners[0]!]! += 1;
      }
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(hosts.length);
      const expected = hosts.length / count;
      // Binomial spread is about sqrt(expected) ≈ 25–70 hosts; 15 % slack is several σ.
      for (const n of sizes) expect(Math.abs(n - expected)).toBeLessThan(0.15 * expected);
    });
  }
});
