/**
 * Host sharding of the live scorer (DESIGN.md "Sharding"): scorer `i of n` owns the hosts whose
 * FNV-1a 32-bit hash of `host_id` (over its UTF-8 bytes) mod n equals i.
 */
import { describe } from './check.js';

/** FNV-1a 32-bit offset basis. */
const FNV_OFFSET_BASIS = 0x811c9dc5;
/** FNV-1a 32-bit prime. */
const FNV_PRIME = 0x01000193;

const encoder = new TextEncoder();

/**
 * FNV-1a 32-bit hash of a string's UTF-8 bytes.
 *
 * @param s - any string; hashed as UTF-8 (lone surrogates encode as U+FFFD, as TextEncoder does).
 * @returns the hash as an unsigned 32-bit integer in [0, 2³²).
 * @throws TypeError when `s` is not a string.
 * @example
 * fnv1a32('');  // 2166136261
 * fnv1a32('a'); // 0xe40c292c
 */
export function fnv1a32(s: string): number {
  if (typeof s !== 'string') {
    throw new TypeError(`s must be a string; got ${describe(s)}`);
  }
  let hash = FNV_OFFSET_BASIS;
  // ASCII fast path: a code unit below 0x80 is its own UTF-8 byte, so no encoding is needed.
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    for (let i = 0; i < s.length; i++) {
      // Math.imul keeps the multiplication exact modulo 2³²; >>> 0 makes it unsigned.
      hash = Math.imul(hash ^ s.charCodeAt(i), FNV_PRIME) >>> 0;
    }
    return hash;
  }
  for (const byte of encoder.encode(s)) {
    hash = Math.imul(hash ^ byte, FNV_PRIME) >>> 0;
  }
  return hash;
}

/**
 * The shard that owns a host: `fnv1a32(hostId) mod count`.
 *
 * @param hostId - the host's id (non-empty string).
 * @param count - number of shards, an integer in [1, 2³²).
 * @returns the shard index in [0, count).
 * @throws TypeError when `hostId` is not a string; RangeError when it is empty or `count` is out
 *   of range.
 * @example
 * shardOf('host-0001', 4); // 0..3
 */
export function shardOf(hostId: string, count: number): number {
  validateHostId(hostId);
  validateCount(count);
  return fnv1a32(hostId) % count;
}

/**
 * Whether scorer `index of count` owns a host.
 *
 * @param hostId - the host's id (non-empty string).
 * @param index - this scorer's shard index, an integer in [0, count).
 * @param count - number of shards, an integer in [1, 2³²).
 * @throws TypeError / RangeError as {@link shardOf}, and RangeError when `index` is not in
 *   [0, count).
 * @example
 * ownsHost('host-0001', 0, 1); // true: a single scorer owns every host
 */
export function ownsHost(hostId: string, index: number, count: number): boolean {
  validateHostId(hostId);
  validateCount(count);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new RangeError(`index must be an integer in [0, ${count - 1}]; got ${describe(index)}`);
  }
  return fnv1a32(hostId) % count === index;
}

function validateHostId(hostId: unknown): asserts hostId is string {
  if (typeof hostId !== 'string') {
    throw new TypeError(`hostId must be a string; got ${describe(hostId)}`);
  }
  if (hostId.length === 0) throw new RangeError('hostId must be a non-empty string; got ""');
}

function validateCount(count: unknown): asserts count is number {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 0xffffffff) {
    throw new RangeError(`count must be an integer in [1, 4294967295]; got ${describe(count)}`);
  }
}
