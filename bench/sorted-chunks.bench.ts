/**
 * The sorted-value chunks that answer fleet-wide histograms (src/core/stats/sorted.ts): encoding
 * and decoding speed, and bytes per value, on a metric-like column — 10,000,000 normal values
 * (mean 50, sd 10; TADS_BENCH_SCALE=small: 1,000,000), sorted and cut into chunks of 4,096 as
 * the precompute stores them — beside plain float64 chunks (8 bytes a value, a copy to read).
 */
import { Random } from '../src/core/random.js';
import {
  decodeSortedChunk,
  encodeSortedChunk,
  float64Bytes,
  float64sOf,
  SORTED_CHUNK,
} from '../src/core/stats/sorted.js';
import { heading, table } from './lib/harness.js';

const small = process.env.TADS_BENCH_SCALE === 'small';
const N = small ? 1_000_000 : 10_000_000;
const RUNS = 5;

/** Best of RUNS passes of `fn` over every chunk, in values per second. */
function rate(fn: () => void): number {
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    fn();
    best = Math.min(best, performance.now() - t);
  }
  return N / (best / 1000);
}

const rng = Random.fromSeed(7);
const values = new Float64Array(N);
for (let i = 0; i < N; i++) {
  const u = 1 - rng.nextFloat();
  values[i] = 50 + 10 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextFloat());
}
values.sort();
const chunks: Float64Array[] = [];
for (let s = 0; s < N; s += SORTED_CHUNK) chunks.push(values.subarray(s, Math.min(N, s + SORTED_CHUNK)));

let packed: Buffer[] = [];
let plain: Buffer[] = [];
const encode = rate(() => (packed = chunks.map(encodeSortedChunk)));
const copy = rate(() => (plain = chunks.map((c) => Buffer.from(float64Bytes(c)))));
const decode = rate(() => packed.forEach(decodeSortedChunk));
const read = rate(() => plain.forEach(float64sOf));
// Every value back, bit for bit.
const back = new Float64Array(N);
packed.forEach((b, k) => back.set(decodeSortedChunk(b), k * SORTED_CHUNK));
if (!Buffer.from(back.buffer).equals(Buffer.from(values.buffer))) throw new Error('a decoded chunk differs');

const bytes = (bs: Buffer[]) => bs.reduce((a, b) => a + b.length, 0);
heading(`Sorted chunks (${N.toLocaleString('en-US')} sorted normal values, chunks of ${SORTED_CHUNK})`);
table([
  {
    format: 'packed (first value + bit-packed key differences)',
    'bytes per value': (bytes(packed) / N).toFixed(2),
    'write values/s': Math.round(encode),
    'read values/s': Math.round(decode),
  },
  {
    format: 'plain float64',
    'bytes per value': (bytes(plain) / N).toFixed(2),
    'write values/s': Math.round(copy),
    'read values/s': Math.round(read),
  },
]);
console.log('every value decoded bit for bit');
