/**
 * Live telemetry into {@link LiveBatch}es: the generator's stream sends one message per time step
 * (a few records per shard); the scorer scores best in larger batches. {@link coalesceBatches}
 * reads the source ahead into a bounded queue and hands the scorer everything queued (up to a
 * cap) at each step — small batches while the scorer keeps up (low latency), large ones when it
 * falls behind (high throughput) — with backpressure on the source when the queue is full.
 */
import { METRICS } from '../core/types.js';
import type { LiveBatch } from './live-scorer.js';

/** One live record as the generator client decodes it. */
export interface LiveRecordInput {
  hostId: string;
  /** RFC 3339 timestamp. */
  ts: string;
  metrics: Readonly<Record<string, number>>;
}

/**
 * Converts decoded records into one batch (metrics in METRICS order; a missing metric is NaN,
 * which makes the record invalid).
 */
export function recordsToLiveBatch(records: readonly LiveRecordInput[]): LiveBatch {
  const n = records.length;
  const d = METRICS.length;
  const ts = new Float64Array(n);
  const hostIds = new Array<string>(n);
  const metrics = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    ts[i] = Date.parse(r.ts);
    hostIds[i] = r.hostId;
    for (let j = 0; j < d; j++) {
      const v = r.metrics[METRICS[j]!];
      metrics[i * d + j] = typeof v === 'number' ? v : NaN;
    }
  }
  return { length: n, ts, hostIds, metrics };
}

/** Options of {@link coalesceBatches}. */
export interface CoalesceOptions {
  /** Most records handed out at once, an integer ≥ 1 (default 10 000). */
  maxRecords?: number;
  /** Records read ahead before the source waits, an integer ≥ maxRecords (default 4 × maxRecords). */
  maxQueued?: number;
}

/**
 * Merges the messages of a record stream into batches of whatever has arrived, at most
 * `maxRecords` records each (a message is never split, so one larger message is one batch).
 * Ending the iteration stops reading the source and closes it.
 *
 * @param source - messages of records (e.g. `GeneratorClient.streamTelemetry`)
 * @param options - see {@link CoalesceOptions}
 * @throws (while iterating) whatever the source throws
 */
export async function* coalesceBatches(
  source: AsyncIterable<readonly LiveRecordInput[]>,
  options: CoalesceOptions = {},
): AsyncGenerator<LiveBatch> {
  const maxRecords = options.maxRecords ?? 10_000;
  const maxQueued = options.maxQueued ?? 4 * maxRecords;
  if (!Number.isInteger(maxRecords) || maxRecords < 1) {
    throw new RangeError(`options.maxRecords must be an integer ≥ 1; got ${maxRecords}`);
  }
  if (!Number.isInteger(maxQueued) || maxQueued < maxRecords) {
    throw new RangeError(
      `options.maxQueued must be an integer ≥ maxRecords (${maxRecords}); got ${maxQueued}`,
    );
  }

  // The pump reads ahead; the consumer below takes what is queued. Each side wakes the other.
  const queue: (readonly LiveRecordInput[])[] = [];
  let queued = 0;
  let done = false;
  let failure: { error: unknown } | null = null;
  let stopped = false;
  // Held in an object: closures assign them, which flow analysis of plain locals would not see.
  const wake: { consumer: (() => void) | null; pump: (() => void) | null } = { consumer: null, pump: null };
  const iterator = source[Symbol.asyncIterator]();
  const pump = (async () => {
    try {
      while (!stopped) {
        if (queued >= maxQueued) {
          await new Promise<void>((resolve) => (wake.pump = resolve));
          continue;
        }
        const next = await iterator.next();
        if (next.done) break;
        if (next.value.length === 0) continue;
        queue.push(next.value);
        queued += next.value.length;
        wake.consumer?.();
      }
    } catch (error) {
      failure = { error };
    } finally {
      done = true;
      wake.consumer?.();
    }
  })();

  try {
    for (;;) {
      if (queue.length === 0) {
        if (failure !== null) throw (failure as { error: unknown }).error;
        if (done) return;
        await new Promise<void>((resolve) => (wake.consumer = resolve));
        wake.consumer = null;
        continue;
      }
      // Take whole messages up to the cap (at least one).
      const taken: LiveRecordInput[] = [];
      while (queue.length > 0 && (taken.length === 0 || taken.length + queue[0]!.length <= maxRecords)) {
        const msg = queue.shift()!;
        queued -= msg.length;
        for (const r of msg) taken.push(r);
      }
      wake.pump?.();
      wake.pump = null;
      yield recordsToLiveBatch(taken);
    }
  } finally {
    // Stop reading and close the source (cancels a gRPC stream).
    stopped = true;
    wake.pump?.();
    await iterator.return?.();
    await pump.catch(() => {});
  }
}
