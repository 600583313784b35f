/**
 * A metric's values of a whole dataset, sorted and stored in chunks (`dataset_stats_sorted`,
 * written and read by src/db/sorted-values.ts), so that a fleet-wide histogram over any range and
 * any number of bins is exact without reading the rows: bin counts are differences of ranks (how
 * many values lie below an edge), and the rank of an edge needs only the one chunk the edge falls
 * in.
 *
 * Each chunk row holds the rank of its first value, its first and last value, and its values
 * packed by {@link encodeSortedChunk} (lossless, about half the size of the float64s). The index
 * (ranks, first and last values: 24 bytes per chunk) is read once per dataset and metric and
 * kept; a question then reads at most one chunk per edge, and none for an edge that falls
 * between two chunks.
 *
 * Order: ascending, NaN last (the order of `Float64Array.prototype.sort` and of PostgreSQL's
 * float8), so a NaN is above every edge, as it is in SQL.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { HI_WORD, keyHi, keyLo, LO_WORD, putValueOfKey } from './float-key.js';

/** Values per stored chunk (about 18 KiB packed): a 40-bin question reads at most 41 of them. */
export const SORTED_CHUNK = 4096;

/** A sorted column: its chunk index, and whichever chunks' values have been read. */
export interface SortedColumn {
  /** Number of values. */
  n: number;
  /** Rank of each chunk's first value (ascending, starting at 0). */
  starts: Float64Array;
  /** Each chunk's first and last value. */
  firsts: Float64Array;
  lasts: Float64Array;
  /** Values of the chunks read so far, by chunk number. */
  chunks: Map<number, Float64Array>;
}

/** a > x, with NaN the greatest value. */
const above = (a: number, x: number): boolean => a > x || (Number.isNaN(a) && !Number.isNaN(x));
/** a ≥ x, with NaN the greatest value. */
const atLeast = (a: number, x: number): boolean => a >= x || Number.isNaN(a);

/** Whether a value is past x: above it when counting values ≤ x, at least it when counting < x. */
function pastOf(x: number, inclusive: boolean): (v: number) => boolean {
  return inclusive ? (v) => above(v, x) : (v) => atLeast(v, x);
}

/** First index i in [0, n) with pred(a[i]) (pred monotone: false…false true…true), else n. */
function firstWhere(a: Float64Array, n: number, pred: (v: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pred(a[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Where the rank of x lies: `{ rank }` when the index alone decides it, or `{ chunk }` when it
 * needs that chunk's values. The rank counts the values < x, or ≤ x when `inclusive`.
 */
function locate(col: SortedColumn, x: number, inclusive: boolean): { rank: number } | { chunk: number } {
  const past = pastOf(x, inclusive);
  // The first chunk whose last value is past x holds the boundary; every chunk before it is
  // wholly below.
  const k = firstWhere(col.lasts, col.lasts.length, past);
  if (k === col.lasts.length) return { rank: col.n };
  if (past(col.firsts[k]!)) return { rank: col.starts[k]! };
  return { chunk: k };
}

/** Chunks whose values the ranks of `probes` need and which have not been read yet. */
export function chunksNeeded(
  col: SortedColumn,
  probes: readonly { x: number; inclusive: boolean }[],
): number[] {
  const need = new Set<number>();
  for (const p of probes) {
    const at = locate(col, p.x, p.inclusive);
    if ('chunk' in at && !col.chunks.has(at.chunk)) need.add(at.chunk);
  }
  return [...need].sort((a, b) => a - b);
}

/**
 * The number of values < x (≤ x when `inclusive`).
 *
 * @throws Error when the chunk it needs has not been read ({@link chunksNeeded})
 */
export function rankOf(col: SortedColumn, x: number, inclusive: boolean): number {
  const at = locate(col, x, inclusive);
  if ('rank' in at) return at.rank;
  const values = col.chunks.get(at.chunk);
  if (!values) throw new Error(`chunk ${at.chunk} of the sorted column has not been read`);
  return col.starts[at.chunk]! + firstWhere(values, values.length, pastOf(x, inclusive));
}

/** The probes a histogram over `edges` needs: every lower edge (strict) and hi (inclusive). */
export function histogramProbes(edges: readonly number[]): { x: number; inclusive: boolean }[] {
  const bins = edges.length - 1;
  const probes = edges.slice(0, bins).map((x) => ({ x, inclusive: false }));
  probes.push({ x: edges[bins]!, inclusive: true });
  return probes;
}

/**
 * Counts per bin of the histogram over `edges` (bin i: edges[i] ≤ v < edges[i + 1], the last
 * bin also v = hi), with the values below lo and above hi (NaN included), from ranks alone.
 */
export function histogramOfSorted(
  col: SortedColumn,
  edges: readonly number[],
): { counts: number[]; below: number; above: number } {
  const bins = edges.length - 1;
  const ranks = histogramProbes(edges).map((p) => rankOf(col, p.x, p.inclusive));
  const counts = new Array<number>(bins);
  for (let i = 0; i < bins; i++) counts[i] = ranks[i + 1]! - ranks[i]!;
  return { counts, below: ranks[0]!, above: col.n - ranks[bins]! };
}

/**
 * A sorted array as a column of chunks of `chunk` values each, all of them present (the
 * precompute's view of what it stores).
 */
export function sortedColumnOf(sorted: Float64Array, chunk = SORTED_CHUNK): SortedColumn {
  const count = Math.ceil(sorted.length / chunk);
  const col: SortedColumn = {
    n: sorted.length,
    starts: new Float64Array(count),
    firsts: new Float64Array(count),
    lasts: new Float64Array(count),
    chunks: new Map(),
  };
  for (let k = 0; k < count; k++) {
    const start = k * chunk;
    const values = sorted.subarray(start, Math.min(sorted.length, start + chunk));
    col.starts[k] = start;
    col.firsts[k] = values[0]!;
    col.lasts[k] = values[values.length - 1]!;
    col.chunks.set(k, values);
  }
  return col;
}

/**
 * `percentile_cont(p)` of n sorted values, reading the values of ranks ⌊h⌋ and ⌈h⌉ (h = p·(n − 1))
 * through `valueAt` and interpolating between them as PostgreSQL does; NaN when n = 0.
 */
export function percentileAt(n: number, p: number, valueAt: (rank: number) => number): number {
  if (n === 0) return NaN;
  const h = p * (n - 1);
  const first = Math.floor(h);
  const v0 = valueAt(first);
  if (Math.ceil(h) === first) return v0;
  return v0 + (h - first) * (valueAt(first + 1) - v0);
}

/** `percentile_cont(p)` of sorted values ({@link percentileAt}). */
export function percentileOfSorted(sorted: Float64Array, p: number): number {
  return percentileAt(sorted.length, p, (r) => sorted[r]!);
}

/** Number of values in chunk k. */
export function chunkLength(col: SortedColumn, k: number): number {
  return (k + 1 < col.starts.length ? col.starts[k + 1]! : col.n) - col.starts[k]!;
}

/** a before b in ascending order with NaN last (the order of `Float64Array.prototype.sort`). */
const before = (a: number, b: number): boolean => a < b || (b !== b && a === a);

/**
 * Merges sorted runs (run r holds positions [bounds[r], bounds[r + 1]) of what `read` reads)
 * into one ascending sequence, handed to `emit` block by block with the rank of its first value,
 * yielding to the event loop every few blocks.
 * Memory: a buffer per run and one output block (reused: `emit` must copy what it keeps).
 */
export async function mergeSortedRuns(
  read: (start: number, out: Float64Array) => void,
  bounds: readonly number[],
  emit: (block: Float64Array, rank: number) => void,
): Promise<void> {
  const runs = bounds.length - 1;
  const BUF = 8192;
  const bufs: Float64Array[] = [];
  const pos = new Int32Array(runs);
  const lim = new Int32Array(runs);
  const next = new Float64Array(runs);
  const heap = new Int32Array(runs);
  let size = 0;
  const fill = (r: number): boolean => {
    const left = bounds[r + 1]! - next[r]!;
    if (left <= 0) return false;
    const len = Math.min(BUF, left);
    read(next[r]!, bufs[r]!.subarray(0, len));
    next[r]! += len;
    pos[r] = 0;
    lim[r] = len;
    return true;
  };
  const head = (r: number): number => bufs[r]![pos[r]!]!;
  const siftDown = (i: number): void => {
    const r = heap[i]!;
    const v = head(r);
    for (;;) {
      let c = 2 * i + 1;
      if (c >= size) break;
      if (c + 1 < size && before(head(heap[c + 1]!), head(heap[c]!))) c++;
      if (!before(head(heap[c]!), v)) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = r;
  };
  for (let r = 0; r < runs; r++) {
    bufs.push(new Float64Array(Math.max(1, Math.min(BUF, bounds[r + 1]! - bounds[r]!))));
    next[r] = bounds[r]!;
    if (fill(r)) heap[size++] = r;
  }
  for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(i);
  const out = new Float64Array(65_536);
  let o = 0;
  let rank = 0;
  while (size > 0) {
    const r = heap[0]!;
    out[o++] = head(r);
    if (o === out.length) {
      emit(out, rank);
      rank += o;
      o = 0;
      // Let other work run now and then (the merge of a large dataset takes a while).
      if ((rank / out.length) % 8 === 0) await yieldToLoop();
    }
    if (++pos[r]! === lim[r]! && !fill(r)) {
      heap[0] = heap[--size]!;
      if (size === 0) break;
    }
    siftDown(0);
  }
  if (o > 0) emit(out.subarray(0, o), rank);
}

// ---------------------------------------------------------------------------------------------
// Stored bytes (little-endian on every machine)
// ---------------------------------------------------------------------------------------------

/** Whether this machine stores numbers little-endian (a double's high word comes second). */
const LE = HI_WORD === 1;
/** A double's high and low words in a Uint32Array over it (constants, folded into the loops). */
const HI = HI_WORD;
const LO = LO_WORD;

/** Little-endian float64 bytes of `a` (a view of it on a little-endian machine). */
export function float64Bytes(a: Float64Array): Buffer {
  if (LE) return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const buf = Buffer.alloc(a.length * 8);
  for (let i = 0; i < a.length; i++) buf.writeDoubleLE(a[i]!, i * 8);
  return buf;
}

/** The float64s of {@link float64Bytes}' bytes (a copy, aligned). */
export function float64sOf(buf: Buffer): Float64Array {
  const out = new Float64Array(buf.length / 8);
  if (LE) new Uint8Array(out.buffer).set(buf);
  else for (let i = 0; i < out.length; i++) out[i] = buf.readDoubleLE(i * 8);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Chunk encoding
// ---------------------------------------------------------------------------------------------

/**
 * Sorted doubles differ little from one to the next: as order-preserving 64-bit keys (the sign
 * bit flipped for positives, every bit for negatives; ./float-key.ts) their differences take about 33 bits where
 * the values take 64 (measured on normal data at 10 million values), so a chunk is stored as its
 * first value and the differences bit-packed at the chunk's widest. Lossless: every value comes
 * back bit for bit (−0 and +0, infinities, subnormals, NaN).
 *
 * Layout (little-endian): u8 width w (0–53 bits per difference, or {@link RAW} for values stored
 * as they are), u32 value count n, f64 the first value, then n − 1 differences of w bits packed
 * from the lowest bit of 32-bit words up.
 */
const RAW = 255;
const HEADER = 13;
const TWO32 = 4_294_967_296;

/** Differences of one chunk's keys (high and low halves), reused from chunk to chunk. */
let scratchHi = new Uint32Array(0);
let scratchLo = new Uint32Array(0);

/** Encodes a chunk of sorted values (ascending, NaN last) for `dataset_stats_sorted.data`. */
export function encodeSortedChunk(values: Float64Array): Buffer {
  const n = values.length;
  const bits = new Uint32Array(values.buffer, values.byteOffset, n * 2);
  if (scratchHi.length < n) {
    scratchHi = new Uint32Array(n);
    scratchLo = new Uint32Array(n);
  }
  const dHi = scratchHi;
  const dLo = scratchLo;
  // Differences of consecutive keys, as high and low halves; the widest decides the width.
  let width = 0;
  let raw = n === 0;
  let pHi = 0;
  let pLo = 0;
  for (let i = 0; i < n; i++) {
    const h = bits[2 * i + HI]!;
    const kHi = keyHi(h);
    const kLo = keyLo(h, bits[2 * i + LO]!);
    if (i > 0) {
      let lo = kLo - pLo;
      let hi = kHi - pHi;
      if (lo < 0) {
        lo += TWO32;
        hi -= 1;
      }
      // Out of order (a NaN with its sign bit set) or too far apart for a double: store as is.
      if (hi < 0 || hi >= 1 << 21) {
        raw = true;
        break;
      }
      dHi[i - 1] = hi;
      dLo[i - 1] = lo;
      const w = hi > 0 ? 64 - Math.clz32(hi) : 32 - Math.clz32(lo);
      if (w > width) width = w;
    }
    pHi = kHi;
    pLo = kLo;
  }
  if (raw) {
    const buf = Buffer.alloc(5 + n * 8);
    buf.writeUInt8(RAW, 0);
    buf.writeUInt32LE(n, 1);
    float64Bytes(values).copy(buf, 5);
    return buf;
  }
  // Pack: each difference's low min(w, 32) bits, then its high w − 32 bits, from the lowest bit
  // of each 32-bit word up.
  const lowW = Math.min(width, 32);
  const highW = width - lowW;
  const words = new Uint32Array(Math.ceil(((n - 1) * width) / 32));
  let wi = 0;
  let cur = 0;
  let used = 0;
  for (let i = 0; i < n - 1; i++) {
    for (let part = 0; part < 2; part++) {
      const nb = part === 0 ? lowW : highW;
      if (nb === 0) continue;
      const v = part === 0 ? dLo[i]! : dHi[i]!;
      cur = (cur | (v << used)) >>> 0;
      if (used + nb >= 32) {
        words[wi++] = cur;
        cur = used === 0 ? 0 : v >>> (32 - used);
        used = used + nb - 32;
      } else used += nb;
    }
  }
  if (used > 0) words[wi] = cur;
  const buf = Buffer.alloc(HEADER + words.length * 4);
  buf.writeUInt8(width, 0);
  buf.writeUInt32LE(n, 1);
  buf.writeDoubleLE(values[0]!, 5);
  if (LE) Buffer.from(words.buffer, 0, words.byteLength).copy(buf, HEADER);
  else for (let i = 0; i < words.length; i++) buf.writeUInt32LE(words[i]!, HEADER + 4 * i);
  return buf;
}

/** Decodes {@link encodeSortedChunk}'s bytes. */
export function decodeSortedChunk(buf: Buffer): Float64Array {
  const width = buf.readUInt8(0);
  const n = buf.readUInt32LE(1);
  if (width === RAW) return float64sOf(buf.subarray(5, 5 + n * 8));
  const nWords = Math.ceil(((n - 1) * width) / 32);
  if (width > 53 || buf.length !== HEADER + nWords * 4)
    throw new Error(`malformed sorted chunk (width ${width}, ${n} values, ${buf.length} bytes)`);
  // The words, aligned (and in this machine's order).
  const words = new Uint32Array(nWords + 1);
  if (LE) new Uint8Array(words.buffer, 0, nWords * 4).set(buf.subarray(HEADER));
  else for (let i = 0; i < nWords; i++) words[i] = buf.readUInt32LE(HEADER + 4 * i);
  const out = new Float64Array(n);
  const bits = new Uint32Array(out.buffer);
  out[0] = buf.readDoubleLE(5);
  let kHi = keyHi(bits[HI]!);
  let kLo = keyLo(bits[HI]!, bits[LO]!);
  const lowW = Math.min(width, 32);
  const highW = width - lowW;
  const lowMask = lowW === 0 ? 0 : 0xffffffff >>> (32 - lowW);
  const highMask = highW === 0 ? 0 : 0xffffffff >>> (32 - highW);
  let wi = 0;
  let used = 0;
  for (let i = 1; i < n; i++) {
    // The low part, then the high part, each within a word or across two.
    let dLo = 0;
    if (lowW > 0) {
      const w0 = words[wi]!;
      if (used + lowW < 32) {
        dLo = ((w0 >>> used) & lowMask) >>> 0;
        used += lowW;
      } else {
        dLo = used === 0 ? w0 & lowMask : ((w0 >>> used) | (words[wi + 1]! << (32 - used))) & lowMask;
        dLo >>>= 0;
        used = used + lowW - 32;
        wi++;
      }
    }
    let dHi = 0;
    if (highW > 0) {
      const w0 = words[wi]!;
      if (used + highW < 32) {
        dHi = (w0 >>> used) & highMask;
        used += highW;
      } else {
        dHi = used === 0 ? w0 & highMask : ((w0 >>> used) | (words[wi + 1]! << (32 - used))) & highMask;
        used = used + highW - 32;
        wi++;
      }
    }
    kLo += dLo;
    if (kLo >= TWO32) {
      kLo -= TWO32;
      kHi += 1;
    }
    kHi += dHi;
    putValueOfKey(bits, i, kHi, kLo);
  }
  return out;
}
