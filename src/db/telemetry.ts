/**
 * Telemetry storage: one partition of `host_telemetry_archival` per dataset, bulk-loaded with
 * binary COPY and read back with binary COPY, streamed both ways so that a dataset never sits
 * whole in memory.
 *
 * Loading (fastest path, measured in bench/ingest.bench.ts): the partition is created as a
 * standalone table without indexes, with a CHECK constraint equal to its partition bound; rows are
 * COPYed in (FREEZE, since the table is new in the same transaction); then the primary key is
 * built in one sort and the table is attached — the CHECK lets PostgreSQL skip the validation
 * scan, and the new primary key index is adopted as the partition's index. Everything happens in
 * the caller's transaction, so a failure at any point leaves no rows and no table behind.
 *
 * Binary COPY keeps doubles exact (IEEE 754 bits both ways) and spares PostgreSQL the text
 * parsing.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { Id } from '../contract/common.js';
import { ValidationError } from '../core/errors.js';
import { ANOMALY_TYPES, METRICS, type HostInfo, type Matrix, type TelemetryChunk } from '../core/types.js';
import { toDatabaseError, withDatabaseErrors } from './errors.js';
import type { Queryable } from './pool.js';

/** The parent table. */
export const TELEMETRY_TABLE = 'host_telemetry_archival';

/** Columns in COPY order. */
export const TELEMETRY_COLUMNS = [
  'dataset_id',
  'row_id',
  'ts',
  'host_id',
  'project_id',
  'region',
  ...METRICS,
  'is_anomaly',
  'anomaly_type',
  'anomaly_episode',
] as const;

const D = METRICS.length;

/** Validates a dataset id (it ends up in identifiers and literals, never from raw input). */
function checkDatasetId(datasetId: unknown): string {
  const r = Id.safeParse(datasetId);
  if (!r.success) {
    throw new ValidationError(
      `datasetId must be a UUID; got ${typeof datasetId === 'string' ? JSON.stringify(datasetId) : typeof datasetId}`,
      [{ path: 'datasetId', message: 'must be a UUID' }],
    );
  }
  return r.data;
}

/**
 * The partition table of a dataset: `host_telemetry_archival_<uuid without dashes>`.
 *
 * @throws ValidationError when `datasetId` is not a UUID
 * @example
 * telemetryPartitionName('0b8e…'); // 'host_telemetry_archival_0b8e…'
 */
export function telemetryPartitionName(datasetId: string): string {
  return `${TELEMETRY_TABLE}_${checkDatasetId(datasetId).replaceAll('-', '')}`;
}

/**
 * Creates a dataset's partition as a standalone table, ready for a bulk load: same columns and
 * constraints as the parent, no index, and a CHECK equal to the partition bound. Call it inside
 * a transaction and finish with {@link attachTelemetryPartition}.
 *
 * @returns the partition's table name
 */
export async function createTelemetryPartition(db: Queryable, datasetId: string): Promise<string> {
  const id = checkDatasetId(datasetId);
  const part = telemetryPartitionName(id);
  await withDatabaseErrors(() =>
    db.query(
      `CREATE TABLE ${part} (LIKE ${TELEMETRY_TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
         CONSTRAINT ${part}_bound CHECK (dataset_id IS NOT NULL AND dataset_id = '${id}'::uuid))`,
    ),
  );
  return part;
}

/**
 * Builds the partition's primary key and attaches it to `host_telemetry_archival` (no
 * validation scan, thanks to the CHECK made by {@link createTelemetryPartition}).
 */
export async function attachTelemetryPartition(db: Queryable, datasetId: string): Promise<void> {
  const id = checkDatasetId(datasetId);
  const part = telemetryPartitionName(id);
  await withDatabaseErrors(async () => {
    await db.query(`ALTER TABLE ${part} ADD PRIMARY KEY (dataset_id, row_id)`);
    await db.query(`ALTER TABLE ${TELEMETRY_TABLE} ATTACH PARTITION ${part} FOR VALUES IN ('${id}')`);
  });
}

/** Drops a dataset's partition (attached or not) with its rows. Idempotent. */
export async function dropTelemetryPartition(db: Queryable, datasetId: string): Promise<void> {
  const part = telemetryPartitionName(datasetId);
  await withDatabaseErrors(() => db.query(`DROP TABLE IF EXISTS ${part}`));
}

// ---------------------------------------------------------------------------------------------
// Binary COPY encoding
// ---------------------------------------------------------------------------------------------

/** PostgreSQL's binary COPY signature, flags and header-extension length. */
const COPY_HEADER = Buffer.from([
  0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
]);
/** The file trailer: a field count of −1. */
const COPY_TRAILER = Buffer.from([0xff, 0xff]);
/** Milliseconds from the Unix epoch to PostgreSQL's (2000-01-01). */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const TWO_32 = 0x1_0000_0000;

/** A length-prefixed field (`int32 length` + bytes) for a text value. */
function textField(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(4 + bytes.length);
  out.writeInt32BE(bytes.length, 0);
  bytes.copy(out, 4);
  return out;
}

/** Encodes telemetry chunks of one dataset as binary COPY tuples. */
export class TelemetryCopyEncoder {
  readonly #uuid: Buffer;
  /** Per host: host_id, project_id and region fields, concatenated. */
  readonly #hostFields: Buffer[];
  /** Per anomaly type code + 1: the anomaly_type field (index 0: NULL). */
  readonly #typeFields: Buffer[];
  readonly #maxRowBytes: number;

  /**
   * @param datasetId - the dataset's UUID
   * @param hosts - the fleet a chunk's `host` indexes
   */
  constructor(datasetId: string, hosts: readonly HostInfo[]) {
    const id = checkDatasetId(datasetId);
    this.#uuid = Buffer.from(id.replaceAll('-', ''), 'hex');
    this.#hostFields = hosts.map((h) =>
      Buffer.concat([textField(h.hostId), textField(h.projectId), textField(h.region)]),
    );
    const nullField = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    this.#typeFields = [nullField, ...ANOMALY_TYPES.map(textField)];
    const maxHost = Math.max(0, ...this.#hostFields.map((b) => b.length));
    const maxType = Math.max(...this.#typeFields.map((b) => b.length));
    // field count, uuid, row_id, ts, host fields, 8 doubles, bool, type, episode
    this.#maxRowBytes = 2 + 20 + 12 + 12 + maxHost + D * 12 + 5 + maxType + 8;
  }

  /** The COPY stream's header (once, first). */
  header(): Buffer {
    return COPY_HEADER;
  }

  /** The COPY stream's trailer (once, last). */
  trailer(): Buffer {
    return COPY_TRAILER;
  }

  /** Encodes one chunk's rows as tuples, in row order. */
  encode(chunk: TelemetryChunk): Buffer {
    const n = chunk.length;
    const buf = Buffer.allocUnsafe(n * this.#maxRowBytes);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const uuid = this.#uuid;
    const hostFields = this.#hostFields;
    const typeFields = this.#typeFields;
    const metrics = chunk.metrics;
    let o = 0;
    for (let i = 0; i < n; i++) {
      view.setInt16(o, TELEMETRY_COLUMNS.length);
      o += 2;
      // dataset_id
      view.setInt32(o, 16);
      uuid.copy(buf, o + 4);
      o += 20;
      // row_id (int8, as two 32-bit halves: exact below 2⁵³)
      const rowId = chunk.firstRowId + i;
      view.setInt32(o, 8);
      view.setInt32(o + 4, Math.floor(rowId / TWO_32));
      view.setUint32(o + 8, rowId % TWO_32);
      o += 12;
      // ts (timestamptz: µs since 2000-01-01; whole ms, so exact)
      const us = (chunk.ts[i]! - PG_EPOCH_MS) * 1000;
      const hi = Math.floor(us / TWO_32);
      view.setInt32(o, 8);
      view.setInt32(o + 4, hi);
      view.setUint32(o + 8, us - hi * TWO_32);
      o += 12;
      // host_id, project_id, region
      const hf = hostFields[chunk.host[i]!];
      if (hf === undefined)
        throw new RangeError(`chunk.host[${i}] must index the fleet; got ${chunk.host[i]}`);
      hf.copy(buf, o);
      o += hf.length;
      // the eight metrics (float8, big-endian IEEE 754: exact)
      const mo = i * D;
      for (let j = 0; j < D; j++) {
        view.setInt32(o, 8);
        view.setFloat64(o + 4, metrics[mo + j]!);
        o += 12;
      }
      // is_anomaly
      view.setInt32(o, 1);
      buf[o + 4] = chunk.isAnomaly[i] ? 1 : 0;
      o += 5;
      // anomaly_type (NULL or text)
      const tf = typeFields[chunk.anomalyType[i]! + 1]!;
      tf.copy(buf, o);
      o += tf.length;
      // anomaly_episode (NULL or int4)
      const ep = chunk.anomalyEpisode[i]!;
      if (ep < 0) {
        view.setInt32(o, -1);
        o += 4;
      } else {
        view.setInt32(o, 4);
        view.setInt32(o + 4, ep);
        o += 8;
      }
    }
    return buf.subarray(0, o);
  }
}

/** Options of {@link copyTelemetryIn}. */
export interface CopyInOptions {
  /**
   * Called after each chunk is handed to the COPY stream, with the rows so far; awaited, so it
   * may renew a lease or throw to abort the COPY.
   */
  onChunk?: (rowsDone: number) => void | Promise<void>;
  /** Use COPY … FREEZE (the table must be new or truncated in the current transaction). */
  freeze?: boolean;
}

/**
 * Streams chunks into a table (normally a new partition) with binary COPY, with backpressure:
 * the next chunk is generated only when the connection has taken the previous one.
 *
 * @param client - a checked-out connection (inside the caller's transaction)
 * @param table - the target table: a partition name from {@link createTelemetryPartition}
 * @param datasetId - the dataset's UUID (written in every row)
 * @param hosts - the fleet a chunk's `host` indexes
 * @param chunks - the rows, in order
 * @returns the number of rows copied (as PostgreSQL counted them)
 * @throws whatever the chunk source or `onChunk` throws (the COPY is aborted); a
 *   DatabaseUnavailableError when the connection fails
 */
export async function copyTelemetryIn(
  client: pg.PoolClient | pg.Client,
  table: string,
  datasetId: string,
  hosts: readonly HostInfo[],
  chunks: Iterable<TelemetryChunk> | AsyncIterable<TelemetryChunk>,
  options: CopyInOptions = {},
): Promise<number> {
  if (!/^[a-z_][a-z0-9_]*$/.test(table)) {
    throw new ValidationError(`table must be a plain lower-case identifier; got ${JSON.stringify(table)}`);
  }
  const encoder = new TelemetryCopyEncoder(datasetId, hosts);
  const sql = `COPY ${table} (${TELEMETRY_COLUMNS.join(', ')}) FROM STDIN WITH (FORMAT binary${options.freeze ? ', FREEZE' : ''})`;
  const sink = client.query(copyFrom(sql));
  client.on('error', ignoreClientError);
  async function* tuples(): AsyncGenerator<Buffer> {
    yield encoder.header();
    let rows = 0;
    for await (const chunk of chunks) {
      yield encoder.encode(chunk);
      rows += chunk.length;
      if (options.onChunk) await options.onChunk(rows);
    }
    yield encoder.trailer();
  }
  try {
    await withDatabaseErrors(() => pipeline(Readable.from(tuples(), { objectMode: false }), sink));
  } finally {
    client.off('error', ignoreClientError);
  }
  return sink.rowCount;
}

// ---------------------------------------------------------------------------------------------
// Binary COPY reading
// ---------------------------------------------------------------------------------------------

/** A block of metrics read back from a dataset. */
export interface MetricsChunk {
  /** row_id of the block's first row. */
  firstRowId: number;
  /** row_id of each row (ascending; gaps where anomalies were excluded). */
  rowIds: Float64Array;
  /** The rows' metrics, `rowIds.length` × 8, in METRICS order. */
  matrix: Matrix;
}

/** Options of {@link readMetricsChunks}. */
export interface ReadMetricsOptions {
  /** First row_id read (inclusive, default 0). */
  fromRowId?: number;
  /** Row_id where reading stops (exclusive, default: the end). */
  toRowId?: number;
  /** Rows per yielded block, an integer in [1, 10 000 000] (default 65 536). */
  chunkRows?: number;
  /** Leave out records labelled anomalous (for training on normal data). */
  excludeAnomalies?: boolean;
}

const checkRowId = (name: string, v: unknown): number | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    const got = typeof v === 'number' ? String(v) : typeof v === 'string' ? JSON.stringify(v) : typeof v;
    throw new ValidationError(`${name} must be a non-negative integer; got ${got}`, [
      { path: name, message: 'must be a non-negative integer' },
    ]);
  }
  return v;
};

/** Fixed size of one tuple of `row_id` + 8 metrics in binary COPY. */
const TUPLE_BYTES = 2 + 12 + D * 12;

/**
 * Streams a dataset's `row_id` and metrics in row order, as blocks of at most `chunkRows` rows,
 * by `COPY (SELECT … ORDER BY row_id) TO STDOUT (FORMAT binary)`: only one block (and one
 * network buffer) is in memory at a time.
 *
 * The connection is busy until the iteration ends. Breaking out early leaves it in the middle of
 * the COPY: the caller must then discard it (`client.release(true)`).
 *
 * @param client - a checked-out connection
 * @param datasetId - the dataset's UUID
 * @param opts - row range `[fromRowId, toRowId)`, block size, and whether to skip anomalies
 * @throws ValidationError for a bad id or option; DatabaseUnavailableError when the connection
 *   fails
 * @example
 * for await (const { rowIds, matrix } of readMetricsChunks(client, id, { chunkRows: 50_000 })) {
 *   scoreBatch(model, matrix);
 * }
 */
export async function* readMetricsChunks(
  client: pg.PoolClient | pg.Client,
  datasetId: string,
  opts: ReadMetricsOptions = {},
): AsyncIterable<MetricsChunk> {
  // Validate
  const id = checkDatasetId(datasetId);
  const from = checkRowId('fromRowId', opts.fromRowId) ?? 0;
  const to = checkRowId('toRowId', opts.toRowId);
  const chunkRows = opts.chunkRows ?? 65_536;
  if (!Number.isInteger(chunkRows) || chunkRows < 1 || chunkRows > 10_000_000) {
    throw new ValidationError(`chunkRows must be an integer in [1, 10000000]; got ${String(chunkRows)}`, [
      { path: 'chunkRows', message: 'must be an integer in [1, 10000000]' },
    ]);
  }
  if (to !== undefined && to <= from) return;

  const where = [`dataset_id = '${id}'`, `row_id >= ${from}`];
  if (to !== undefined) where.push(`row_id < ${to}`);
  if (opts.excludeAnomalies) where.push('NOT is_anomaly');
  const sql = `COPY (SELECT row_id, ${METRICS.join(', ')} FROM ${TELEMETRY_TABLE} WHERE ${where.join(' AND ')} ORDER BY row_id) TO STDOUT (FORMAT binary)`;

  let source: AsyncIterable<Buffer>;
  // A connection lost mid-COPY fails the stream; the client's own 'error' event must not crash
  // the process meanwhile.
  client.on('error', ignoreClientError);
  try {
    source = client.query(copyTo(sql));
  } catch (err) {
    client.off('error', ignoreClientError);
    throw toDatabaseError(err);
  }

  // Parse: header once, then fixed-size tuples until the trailer. Each network buffer is read in
  // place through one DataView; only a tuple (or header) straddling two buffers is copied, into a
  // small carry buffer, and decoded from there.
  const decoder = new TupleDecoder(chunkRows);
  try {
    for await (const piece of source) {
      // (After the trailer the stream is read to its end all the same, so that the connection
      // sees the COPY finish.)
      decoder.push(piece);
      while (decoder.full()) yield decoder.take();
    }
  } catch (err) {
    throw toDatabaseError(err);
  } finally {
    client.off('error', ignoreClientError);
  }
  if (decoder.rows > 0) yield decoder.take();
}

/**
 * Incremental decoder of a binary COPY stream of `row_id` + the 8 metrics into blocks of
 * `chunkRows` rows. {@link push} consumes one network buffer (any size, cut anywhere); the
 * decoded rows go into preallocated arrays, and once a block is full the rest of the buffer waits
 * (by offset, not copied) until {@link take} hands the block out.
 */
class TupleDecoder {
  ended = false;
  /** Rows decoded into the current block. */
  rows = 0;
  readonly #chunkRows: number;
  #rowIds: Float64Array;
  #data: Float64Array;
  #headerDone = false;
  /** Bytes of a header or tuple cut by the end of the previous buffer. */
  #carry: Buffer = Buffer.allocUnsafe(TUPLE_BYTES);
  #carryLen = 0;
  /** The buffer being decoded, with its view and the next offset. */
  #buf: Buffer | undefined;
  #view: DataView | undefined;
  #at = 0;

  constructor(chunkRows: number) {
    this.#chunkRows = chunkRows;
    this.#rowIds = new Float64Array(chunkRows);
    this.#data = new Float64Array(chunkRows * D);
  }

  /** Whether a full block waits for {@link take}. */
  full(): boolean {
    return this.rows === this.#chunkRows;
  }

  /** Hands out the current block (shortened to the rows decoded) and resumes decoding. */
  take(): MetricsChunk {
    const n = this.rows;
    const whole = n === this.#chunkRows;
    const out: MetricsChunk = {
      firstRowId: this.#rowIds[0]!,
      rowIds: whole ? this.#rowIds : this.#rowIds.slice(0, n),
      matrix: { rows: n, cols: D, data: whole ? this.#data : this.#data.slice(0, n * D) },
    };
    // The block now belongs to the caller: decode into fresh arrays.
    this.#rowIds = new Float64Array(this.#chunkRows);
    this.#data = new Float64Array(this.#chunkRows * D);
    this.rows = 0;
    if (this.#buf) this.#withDatabaseErrors();
    return out;
  }

  /** Consumes one network buffer, decoding until it is used up or the block is full. */
  push(piece: Buffer): void {
    if (this.#buf) throw new Error('internal: a buffer is still being decoded');
    if (this.ended) return;
    let at = 0;
    if (!this.#headerDone) {
      at = this.#header(piece);
      if (!this.#headerDone) return;
    }
    if (this.#carryLen > 0) at = this.#finishCarried(piece, at);
    if (this.ended) return;
    this.#buf = piece;
    this.#view = new DataView(piece.buffer, piece.byteOffset, piece.byteLength);
    this.#at = at;
    this.#withDatabaseErrors();
  }

  /** Reads the header (signature, flags, extension), possibly across buffers; returns where it ends. */
  #header(piece: Buffer): number {
    // The header is 19 bytes plus an extension area, normally empty.
    const have = this.#carryLen;
    const need = 19;
    if (have + piece.length < need) {
      this.#carry = appendTo(this.#carry, have, piece, 0, piece.length);
      this.#carryLen += piece.length;
      return piece.length;
    }
    let head: Buffer;
    let from: number;
    if (have > 0) {
      this.#carry = appendTo(this.#carry, have, piece, 0, need - have);
      head = this.#carry;
      from = need - have;
    } else {
      head = piece;
      from = need;
    }
    if (!head.subarray(0, 11).equals(COPY_HEADER.subarray(0, 11))) {
      throw new Error('COPY TO returned data that is not binary COPY format');
    }
    const ext = head.readInt32BE(15);
    this.#carryLen = 0;
    this.#headerDone = true;
    // Skip the extension area (no extension is defined), which may itself span buffers.
    this.#skip = ext;
    return this.#skipBytes(piece, from);
  }

  /** Extension bytes still to skip. */
  #skip = 0;

  #skipBytes(piece: Buffer, at: number): number {
    const n = Math.min(this.#skip, piece.length - at);
    this.#skip -= n;
    return at + n;
  }

  /** Completes the tuple (or trailer) cut by the previous buffer; returns where it ends in `piece`. */
  #finishCarried(piece: Buffer, at: number): number {
    let have = this.#carryLen;
    // The field count decides whether this is a tuple or the trailer.
    if (have < 2) {
      if (at >= piece.length) return at;
      this.#carry[have++] = piece[at++]!;
      this.#carryLen = have;
    }
    const fields = this.#carry.readInt16BE(0);
    if (fields === -1) {
      this.ended = true;
      this.#carryLen = 0;
      return at;
    }
    if (fields !== 1 + D) throw new Error(`COPY TO returned a tuple of ${fields} fields; expected ${1 + D}`);
    const take = Math.min(TUPLE_BYTES - have, piece.length - at);
    piece.copy(this.#carry, have, at, at + take);
    this.#carryLen = have + take;
    if (this.#carryLen < TUPLE_BYTES) return at + take;
    this.#carryLen = 0;
    const view = new DataView(this.#carry.buffer, this.#carry.byteOffset, TUPLE_BYTES);
    this.#decodeTuple(view, 0);
    return at + take;
  }

  /** Decodes whole tuples of the current buffer until it ends or the block is full. */
  #withDatabaseErrors(): void {
    const buf = this.#buf!;
    const view = this.#view!;
    if (this.#skip > 0) this.#at = this.#skipBytes(buf, this.#at);
    let o = this.#at;
    const len = buf.length;
    const rowIds = this.#rowIds;
    const data = this.#data;
    const room = this.#chunkRows;
    let n = this.rows;
    while (n < room && o + 2 <= len) {
      const fields = view.getInt16(o);
      if (fields !== 1 + D) {
        if (fields === -1) {
          this.ended = true;
          o = len;
          break;
        }
        throw new Error(`COPY TO returned a tuple of ${fields} fields; expected ${1 + D}`);
      }
      if (o + TUPLE_BYTES > len) break;
      rowIds[n] = view.getInt32(o + 6) * TWO_32 + view.getUint32(o + 10);
      const b = n * D;
      data[b] = view.getFloat64(o + 18);
      data[b + 1] = view.getFloat64(o + 30);
      data[b + 2] = view.getFloat64(o + 42);
      data[b + 3] = view.getFloat64(o + 54);
      data[b + 4] = view.getFloat64(o + 66);
      data[b + 5] = view.getFloat64(o + 78);
      data[b + 6] = view.getFloat64(o + 90);
      data[b + 7] = view.getFloat64(o + 102);
      o += TUPLE_BYTES;
      n++;
    }
    this.rows = n;
    if (n === room && o < len) {
      // Block full: the rest of this buffer waits for take().
      this.#at = o;
      return;
    }
    // Buffer used up: keep a cut tuple's head for the next buffer.
    if (!this.ended && o < len) {
      buf.copy(this.#carry, 0, o, len);
      this.#carryLen = len - o;
    }
    this.#buf = undefined;
    this.#view = undefined;
    this.#at = 0;
  }

  /** Decodes the tuple at `o` of `view` (field count already checked) into the next row. */
  #decodeTuple(view: DataView, o: number): void {
    const n = this.rows;
    this.#rowIds[n] = view.getInt32(o + 6) * TWO_32 + view.getUint32(o + 10);
    const b = n * D;
    for (let j = 0; j < D; j++) this.#data[b + j] = view.getFloat64(o + 18 + 12 * j);
    this.rows = n + 1;
  }
}

/** Copies `src[from, to)` after the first `len` bytes of `dst`, growing `dst` when needed. */
function appendTo(dst: Buffer, len: number, src: Buffer, from: number, to: number): Buffer {
  const need = len + (to - from);
  let out = dst;
  if (need > dst.length) {
    out = Buffer.allocUnsafe(Math.max(need, 2 * dst.length));
    dst.copy(out, 0, 0, len);
  }
  src.copy(out, len, from, to);
  return out;
}

function ignoreClientError(): void {
  // the failure reaches the reader through the COPY stream
}
