/**
 * Per-record scores of dataset jobs (`job_scores`, one list partition per job): the partition's
 * life (created with the job's first run, dropped on cancel), the binary COPY that writes a
 * chunk's scores inside the chunk's transaction, and the ordered replay read that joins the
 * scores with the telemetry's `ts` and `host_id` for the alert phase.
 *
 * Binary COPY is used both ways: doubles cross exactly (no decimal round trip) and nothing is
 * formatted or parsed as text, which is most of the cost of a text COPY on the Node side.
 */
import type { Readable } from 'node:stream';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { z } from 'zod';
import { Id } from '../contract/common.js';
import { METRICS } from '../core/types.js';
import { codeOf, isUniqueViolation, toDatabaseError } from './errors.js';
import type { PoolClient, Queryable } from './pool.js';

function checkUuid(name: string, id: string): string {
  const r = Id.safeParse(id);
  if (!r.success) throw new TypeError(`${name} must be a UUID; got ${JSON.stringify(id)}`);
  return r.data;
}

/**
 * Name of a job's partition of `job_scores`: `job_scores_<32 hex digits>`. Safe to splice into
 * SQL: built from a checked UUID only.
 *
 * @throws TypeError when `jobId` is not a UUID
 */
export function jobScoresPartition(jobId: string): string {
  return `job_scores_${checkUuid('jobId', jobId).replace(/-/g, '')}`;
}

/** Creates the job's partition when it does not exist yet (idempotent). */
export async function createJobScoresPartition(db: Queryable, jobId: string): Promise<void> {
  const id = checkUuid('jobId', jobId);
  try {
    await db.query(
      `CREATE TABLE IF NOT EXISTS ${jobScoresPartition(id)} PARTITION OF job_scores FOR VALUES IN ('${id}')`,
    );
  } catch (err) {
    // Two runners racing to create it: the loser sees a duplicate; the table is there either way.
    if (codeOf(err) === '42P07' || isUniqueViolation(err)) return;
    throw toDatabaseError(err);
  }
}

/** Drops the job's partition with all its scores (idempotent). */
export async function dropJobScoresPartition(db: Queryable, jobId: string): Promise<void> {
  try {
    await db.query(`DROP TABLE IF EXISTS ${jobScoresPartition(jobId)}`);
  } catch (err) {
    throw toDatabaseError(err);
  }
}

/**
 * The jobs whose partitions of `job_scores` nobody needs any more: cancelled jobs (a run that
 * raced its cancellation may recreate one), and jobs whose row is gone (deleted with its dataset
 * or model by a foreign-key cascade, which cannot drop a partition).
 *
 * @returns the jobs' ids
 */
export async function listLeftoverScorePartitions(db: Queryable): Promise<string[]> {
  let rows: { relname: string }[];
  try {
    const res = await db.query<{ relname: string }>(
      `SELECT c.relname::text AS relname
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'job_scores'::regclass
          AND NOT EXISTS (SELECT 1 FROM jobs j
                           WHERE 'job_scores_' || replace(j.id::text, '-', '') = c.relname
                             AND j.status <> 'cancelled')`,
    );
    rows = res.rows;
  } catch (err) {
    throw toDatabaseError(err);
  }
  const ids: string[] = [];
  for (const { relname } of rows) {
    // Partition names are ours ({@link jobScoresPartition}): job_scores_ + the job id's 32 hex digits.
    const m = /^job_scores_([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/.exec(relname);
    if (m) ids.push(m.slice(1).join('-'));
  }
  return ids;
}

/**
 * Deletes the job's scores at and after `fromRowId`: on resume, whatever lies past the
 * checkpoint is rewritten. (Chunks commit with their checkpoint, so normally nothing is there;
 * this keeps "exactly one score per row" true even for scores written outside a job's run.)
 *
 * @returns how many scores were deleted
 */
export async function deleteScoresFrom(db: Queryable, jobId: string, fromRowId: number): Promise<number> {
  try {
    const res = await db.query(`DELETE FROM ${jobScoresPartition(jobId)} WHERE row_id >= $1`, [fromRowId]);
    return res.rowCount ?? 0;
  } catch (err) {
    throw toDatabaseError(err);
  }
}

/** How many scores the job has stored. */
export async function countScores(db: Queryable, jobId: string): Promise<number> {
  try {
    const { rows } = await db.query(`SELECT count(*) AS n FROM ${jobScoresPartition(jobId)}`);
    return Number(z.object({ n: z.string() }).parse(rows[0]).n);
  } catch (err) {
    throw toDatabaseError(err);
  }
}

/**
 * The scores of one chunk, as the native scorer returns them (a `ScoreOutput` fits), `rows`
 * entries each.
 */
export interface ChunkScores {
  fused: Float64Array;
  spe: Float64Array;
  t2: Float64Array;
  zMax: Float64Array;
  topMetric: Int32Array;
  anomalous: Uint8Array;
}

// Binary COPY framing (PostgreSQL "COPY … (FORMAT binary)"): an 11-byte signature, a flags word
// and a header-extension length, then per tuple a field count and per field a length (-1 for
// NULL) and the value in network byte order, then a -1 trailer.
const SIGNATURE = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]);
const HEADER_BYTES = SIGNATURE.length + 8;
// Per tuple: count(2) + job_id(4+16) + row_id(4+8) + 4 doubles(4+8 each) + top_metric(4+2) + flag(4+1).
const TUPLE_BYTES = 2 + 20 + 12 + 4 * 12 + 6 + 5;
const FIELD_COUNT = 8;

function uuidBytes(id: string): Buffer {
  return Buffer.from(id.replace(/-/g, ''), 'hex');
}

/**
 * Encodes a chunk's scores as one binary COPY payload for `job_scores`
 * (job_id, row_id, fused, spe, t2, z_max, top_metric, is_anomalous). A NaN score (an invalid
 * record) is stored as NULL.
 *
 * @param jobId - the job
 * @param rowIds - row ids, shape (rows)
 * @param scores - the chunk's scores, at least `rows` entries each
 * @param rows - how many rows to encode
 */
export function encodeScoresBinary(
  jobId: string,
  rowIds: Float64Array,
  scores: ChunkScores,
  rows: number,
): Buffer {
  const job = uuidBytes(checkUuid('jobId', jobId));
  const buf = Buffer.allocUnsafe(HEADER_BYTES + rows * TUPLE_BYTES + 2);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  SIGNATURE.copy(buf, 0);
  view.setInt32(SIGNATURE.length, 0);
  view.setInt32(SIGNATURE.length + 4, 0);
  let o = HEADER_BYTES;
  const putDouble = (v: number) => {
    if (Number.isNaN(v)) {
      view.setInt32(o, -1);
      o += 4;
    } else {
      view.setInt32(o, 8);
      view.setFloat64(o + 4, v);
      o += 12;
    }
  };
  for (let i = 0; i < rows; i++) {
    view.setInt16(o, FIELD_COUNT);
    view.setInt32(o + 2, 16);
    job.copy(buf, o + 6);
    view.setInt32(o + 22, 8);
    view.setBigInt64(o + 26, BigInt(rowIds[i]!));
    o += 34;
    putDouble(scores.fused[i]!);
    putDouble(scores.spe[i]!);
    putDouble(scores.t2[i]!);
    putDouble(scores.zMax[i]!);
    view.setInt32(o, 2);
    view.setInt16(o + 4, scores.topMetric[i]!);
    view.setInt32(o + 6, 1);
    view.setUint8(o + 10, scores.anomalous[i] ? 1 : 0);
    o += 11;
  }
  view.setInt16(o, -1);
  o += 2;
  return buf.subarray(0, o);
}

/**
 * Writes a chunk's scores into the job's partition with one binary COPY, on `client` (inside the
 * chunk's transaction, so they commit with the checkpoint).
 *
 * @param client - a checked-out client, in the chunk's transaction
 * @param jobId - the job (its partition must exist)
 * @param rowIds - row ids, shape (rows)
 * @param scores - the scores, shape (rows) each
 * @param rows - how many rows to write
 * @returns the number of rows written
 */
export async function copyScoresIn(
  client: PoolClient,
  jobId: string,
  rowIds: Float64Array,
  scores: ChunkScores,
  rows: number,
): Promise<number> {
  const payload = encodeScoresBinary(jobId, rowIds, scores, rows);
  const stream = client.query(
    copyFrom(
      `COPY ${jobScoresPartition(jobId)} (job_id, row_id, fused, spe, t2, z_max, top_metric, is_anomalous) FROM STDIN (FORMAT binary)`,
    ),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      stream.on('finish', resolve);
      stream.end(payload);
    });
  } catch (err) {
    throw toDatabaseError(err);
  }
  return rows;
}

/**
 * Incremental parser of a binary COPY stream: feed it the stream's buffers, it calls `onTuple`
 * with each complete tuple's fields (as [offset, length] pairs into a buffer it passes along;
 * length -1 is NULL). Tuples may straddle buffers; the parser keeps the tail.
 */
export class BinaryCopyParser {
  #pending: Buffer = Buffer.alloc(0);
  #headerDone = false;
  #ended = false;
  readonly #fields: Int32Array;

  /**
   * @param fieldCount - fields per tuple the query returns
   * @param onTuple - called per tuple: `fields[2k]` is field k's offset in `buf`, `fields[2k+1]`
   *   its length (-1 for NULL)
   */
  constructor(
    readonly fieldCount: number,
    private readonly onTuple: (buf: Buffer, fields: Int32Array) => void,
  ) {
    this.#fields = new Int32Array(fieldCount * 2);
  }

  /** True once the trailer has been read. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Feeds the next piece of the stream. */
  push(chunk: Buffer): void {
    const buf = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    let o = 0;
    if (!this.#headerDone) {
      if (buf.length < HEADER_BYTES) {
        this.#pending = buf;
        return;
      }
      if (!buf.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('not a binary COPY stream');
      const extension = buf.readInt32BE(SIGNATURE.length + 4);
      if (buf.length < HEADER_BYTES + extension) {
        this.#pending = buf;
        return;
      }
      o = HEADER_BYTES + extension;
      this.#headerDone = true;
    }
    const fields = this.#fields;
    const n = this.fieldCount;
    for (;;) {
      if (this.#ended || buf.length - o < 2) break;
      const count = buf.readInt16BE(o);
      if (count === -1) {
        this.#ended = true;
        o += 2;
        break;
      }
      if (count !== n) throw new Error(`binary COPY tuple has ${count} fields; expected ${n}`);
      // Walk the tuple's fields; stop (keeping the tail) if it is not complete yet.
      let p = o + 2;
      let complete = true;
      for (let k = 0; k < n; k++) {
        if (buf.length - p < 4) {
          complete = false;
          break;
        }
        const len = buf.readInt32BE(p);
        p += 4;
        if (len > 0 && buf.length - p < len) {
          complete = false;
          break;
        }
        fields[2 * k] = p;
        fields[2 * k + 1] = len;
        if (len > 0) p += len;
      }
      if (!complete) break;
      this.onTuple(buf, fields);
      o = p;
    }
    this.#pending = o < buf.length ? Buffer.from(buf.subarray(o)) : Buffer.alloc(0);
  }
}

/** Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
const PG_EPOCH_MS = 946_684_800_000;

/** A batch of the alert replay: scores in row_id order with their record's time and host. */
export interface ReplayBatch {
  length: number;
  rowIds: Float64Array;
  /** Telemetry time, ms since the Unix epoch. */
  ts: Float64Array;
  hostIds: string[];
  /** Fused score; NaN for an invalid record. */
  fused: Float64Array;
  /** Index into METRICS, -1 for none. */
  topMetric: Int32Array;
  /** The eight metrics, row-major (length × 8), when asked for; else undefined. */
  metrics: Float64Array | undefined;
}

/** Options of {@link readReplayBatches}. */
export interface ReplayOptions {
  /** Rows per yielded batch (default 65 536). */
  batchRows?: number;
  /** Also read each record's eight metrics (default false). */
  withMetrics?: boolean;
}

function newBatch(rows: number, withMetrics: boolean): ReplayBatch {
  return {
    length: 0,
    rowIds: new Float64Array(rows),
    ts: new Float64Array(rows),
    hostIds: new Array<string>(rows),
    fused: new Float64Array(rows),
    topMetric: new Int32Array(rows),
    metrics: withMetrics ? new Float64Array(rows * METRICS.length) : undefined,
  };
}

/**
 * Reads a job's stored scores in row_id order joined with each record's `ts` and `host_id` (and,
 * when asked, its metrics), in batches. Row ids are assigned in (ts, host_id) order by the
 * generator, so this is the (ts, host_id) order the alert rules need; the reader checks that time
 * never goes back and throws if it does.
 *
 * @param client - a checked-out client (the COPY holds it until the iteration ends; release it
 *   as broken if the iteration is abandoned early)
 * @param jobId - the job
 * @param datasetId - the dataset it scored
 * @param options - batch size and whether to read the metrics
 */
export async function* readReplayBatches(
  client: PoolClient,
  jobId: string,
  datasetId: string,
  options: ReplayOptions = {},
): AsyncGenerator<ReplayBatch> {
  const job = checkUuid('jobId', jobId);
  const dataset = checkUuid('datasetId', datasetId);
  const batchRows = options.batchRows ?? 65_536;
  if (!Number.isInteger(batchRows) || batchRows < 1) {
    throw new RangeError(`batchRows must be an integer ≥ 1; got ${batchRows}`);
  }
  const withMetrics = options.withMetrics ?? false;
  const d = METRICS.length;
  let batch = newBatch(batchRows, withMetrics);
  const ready: ReplayBatch[] = [];
  // Host ids repeat every time step: decode each distinct byte string once.
  const hostCache = new Map<string, string>();
  let lastTs = -Infinity;
  const parser = new BinaryCopyParser(withMetrics ? 5 + d : 5, (buf, f) => {
    const i = batch.length;
    batch.rowIds[i] = Number(buf.readBigInt64BE(f[0]));
    const ts = Number(buf.readBigInt64BE(f[2])) / 1000 + PG_EPOCH_MS;
    if (ts < lastTs) {
      throw new Error(`replay order broken: row ${batch.rowIds[i]} is earlier than the row before it`);
    }
    lastTs = ts;
    batch.ts[i] = ts;
    const key = buf.toString('latin1', f[4], f[4]! + f[5]!);
    let host = hostCache.get(key);
    if (host === undefined) {
      host = buf.toString('utf8', f[4], f[4]! + f[5]!);
      hostCache.set(key, host);
    }
    batch.hostIds[i] = host;
    batch.fused[i] = f[7]! < 0 ? NaN : buf.readDoubleBE(f[6]);
    batch.topMetric[i] = buf.readInt16BE(f[8]);
    if (batch.metrics) {
      for (let j = 0; j < d; j++) {
        batch.metrics[i * d + j] = buf.readDoubleBE(f[10 + 2 * j]);
      }
    }
    batch.length = i + 1;
    if (batch.length === batchRows) {
      ready.push(batch);
      batch = newBatch(batchRows, withMetrics);
    }
  });
  // The partition is read directly; the telemetry through its parent (pruned to the dataset).
  // COPY takes no parameters: both ids are checked UUIDs, the column names a fixed list.
  const metricCols = withMetrics ? `, ${METRICS.map((c) => `t.${c}`).join(', ')}` : '';
  const sql = `COPY (SELECT s.row_id, t.ts, t.host_id, s.fused, s.top_metric${metricCols}
      FROM ${jobScoresPartition(job)} s
      JOIN host_telemetry_archival t ON t.dataset_id = '${dataset}' AND t.row_id = s.row_id
      ORDER BY s.row_id) TO STDOUT (FORMAT binary)`;
  let stream: Readable;
  try {
    stream = client.query(copyTo(sql));
  } catch (err) {
    throw toDatabaseError(err);
  }
  try {
    for await (const chunk of stream) {
      parser.push(chunk as Buffer);
      while (ready.length > 0) yield ready.shift()!;
    }
  } catch (err) {
    stream.destroy();
    throw toDatabaseError(err);
  }
  if (batch.length > 0) yield batch;
}
