/**
 * Storage layout for any metric set (DESIGN.md "Metric sets are data, not code"): the same rows
 * at d = 8, 38 and 256 metrics (1,000,000 rows at d = 8 and 38, 200,000 at d = 256) stored in
 * each candidate layout, and at d = 1,024 (the most a dataset may declare; 2,000 rows, one load
 * and one read round: some reads there take seconds per thousand rows) to see which layouts hold
 * it at all. TADS_BENCH_SCALE=small: a tenth of the rows (1,000 at 1,024).
 *
 * Every row has `row_id`, `ts`, `host_id` (1,000 hosts at 60 s), `is_anomaly` (1 %) and d
 * metrics (uniform values with two decimals, a fresh pseudo-random stream per metric).
 * Candidates:
 * - A, columns: a standalone table per dataset with one `double precision` column per metric,
 *   named by position `m1` … `mN` (the names stay data in the dataset's row, so no SQL
 *   identifier is built from a user's text), primary key `(row_id)`; no `dataset_id` column;
 * - B, array: one `double precision[]` column in a table shared by every dataset and
 *   partitioned by `dataset_id`, loaded as ingest loads today (standalone table with a CHECK
 *   equal to the bound, COPY … FREEZE, primary key, ATTACH), with PostgreSQL's default storage;
 * - B', array inline: the same with `toast_tuple_target = 8160` and the column's storage
 *   EXTERNAL, so that a row that fits in a page stays in it, uncompressed;
 * - C, packed bytea: the metrics as one `bytea` of little-endian float64, stored as B'.
 *
 * Measured per layout, the layouts taking turns so that a change in the machine's load falls on
 * each alike (loads: best of two rounds; reads: best of three rounds after an untimed one):
 * - ingest: binary COPY in (FREEZE, in the creating transaction), then the primary key (and,
 *   for B/B'/C, the ATTACH);
 * - training and jobs: `COPY (SELECT row_id, <all metrics> … ORDER BY row_id) TO STDOUT
 *   (FORMAT binary)` decoded into blocks of 65,536 rows × d float64;
 * - analytics, one metric: the middle metric of every row by binary COPY, decoded;
 * - analytics, SQL: an hourly `date_bin` series of that metric (count, avg, min, max), as the
 *   on-demand series runs (C: no SQL can read a float64 out of a bytea, so none);
 * - training, SQL over every metric: training's filtered second pass in miniature, one scan
 *   with a count below a bound and a sum of distances to it per metric, over the first tenth of
 *   the rows (C: none);
 * - on-disk size: heap, TOAST and primary key (`pg_total_relation_size`).
 * Each operation is given in rows/s of wall time and in CPU µs per row of the PostgreSQL backend
 * and the bench process together (read from /proc when the server runs on this machine), which
 * other work on a shared machine hardly changes; statements run without parallel workers, so
 * that the backend's CPU time is all of theirs. Every read is checked against the generated
 * values (sum of every value in row order, bit for bit; the others to 1e-12).
 * Uses DATABASE_URL's server when set, else an embedded PostgreSQL.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { benchDatabase, heading, table } from './lib/harness.js';

const small = process.env.TADS_BENCH_SCALE === 'small';
const SIZES: { d: number; rows: number; feasibility?: true }[] = [
  { d: 8, rows: small ? 100_000 : 1_000_000 },
  { d: 38, rows: small ? 100_000 : 1_000_000 },
  { d: 256, rows: small ? 20_000 : 200_000 },
  { d: 1024, rows: small ? 1_000 : 2_000, feasibility: true },
];
const HOSTS = 1000;
const GEN_CHUNK = 8192;
const READ_BLOCK = 65_536;
const LOAD_RUNS = 2;
const READ_RUNS = 3;
/** The SQL pass over every metric reads the first 1 / EVERY_SHARE of the rows (it is slow on arrays). */
const EVERY_SHARE = 10;
const T0_MS = Date.UTC(2026, 0, 1);
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const TWO_32 = 0x1_0000_0000;
const FLOAT8_OID = 701;
const DATASET_ID = '7a0c2f1e-0000-4000-8000-00000000000d';

type LayoutName = 'A' | 'B' | "B'" | 'C';
const LAYOUTS: { name: LayoutName; label: string }[] = [
  { name: 'A', label: 'A columns m1..mN (per-dataset table)' },
  { name: 'B', label: 'B float8[] (partitioned, default storage)' },
  { name: "B'", label: "B' float8[] inline (toast_tuple_target 8160, EXTERNAL)" },
  { name: 'C', label: "C bytea float64 LE (stored as B')" },
];

// ---------------------------------------------------------------------------------------------
// The rows
// ---------------------------------------------------------------------------------------------

/** One chunk of generated rows: row ids from `first`, metrics row-major. */
interface Chunk {
  first: number;
  length: number;
  metrics: Float64Array;
  anomaly: Uint8Array;
}

/** The same rows for every layout: a xorshift stream, deterministic in (d, row, metric). */
function* rowsOf(d: number, rows: number): Generator<Chunk> {
  let s = (0x9e3779b9 ^ d) >>> 0;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / TWO_32;
  };
  for (let first = 0; first < rows; first += GEN_CHUNK) {
    const n = Math.min(GEN_CHUNK, rows - first);
    const metrics = new Float64Array(n * d);
    const anomaly = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      anomaly[i] = next() < 0.01 ? 1 : 0;
      for (let j = 0; j < d; j++) metrics[i * d + j] = Math.round((j + 1) * 10 * next() * 100) / 100;
    }
    yield { first, length: n, metrics, anomaly };
  }
}

/** What the reads must give back: every value's sum in row order, and the middle metric's sum. */
function expected(
  d: number,
  rows: number,
  mid: number,
  every: number,
): { all: number; one: number; below: number; spread: number } {
  let all = 0;
  let one = 0;
  let below = 0;
  const spread = new Float64Array(d);
  for (const c of rowsOf(d, rows)) {
    for (let k = 0; k < c.metrics.length; k++) all += c.metrics[k]!;
    for (let i = 0; i < c.length; i++) {
      one += c.metrics[i * d + mid]!;
      if (c.first + i >= every) continue;
      for (let j = 0; j < d; j++) {
        const x = c.metrics[i * d + j]!;
        if (x < centre(j)) below++;
        spread[j] = spread[j]! + Math.abs(x - centre(j));
      }
    }
  }
  return { all, one, below, spread: spread.reduce((a, b) => a + b, 0) };
}

/** The middle of metric j's range (the bound of the every-metric pass). */
const centre = (j: number) => (j + 1) * 5;

const hostField = (i: number): Buffer => {
  const s = Buffer.from(`host-${String(i % HOSTS).padStart(4, '0')}`);
  const b = Buffer.allocUnsafe(4 + s.length);
  b.writeInt32BE(s.length, 0);
  s.copy(b, 4);
  return b;
};
const HOST_FIELDS = Array.from({ length: HOSTS }, (_, i) => hostField(i));
const COPY_HEADER = Buffer.from([
  0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
]);
const COPY_TRAILER = Buffer.from([0xff, 0xff]);
const UUID = Buffer.from(DATASET_ID.replaceAll('-', ''), 'hex');

/** Binary COPY tuples of one chunk in a layout's column order. */
function encode(layout: LayoutName, d: number, c: Chunk): Buffer {
  const fixed = 2 + 12 + 12 + 14 + 5;
  const per =
    layout === 'A' ? fixed + 12 * d : layout === 'C' ? fixed + 20 + 4 + 8 * d : fixed + 20 + 24 + 12 * d;
  const buf = Buffer.allocUnsafe(c.length * per);
  const bytes = Buffer.from(c.metrics.buffer, c.metrics.byteOffset, c.metrics.byteLength);
  let o = 0;
  for (let i = 0; i < c.length; i++) {
    const row = c.first + i;
    buf.writeInt16BE(layout === 'A' ? 4 + d : 6, o);
    o += 2;
    if (layout !== 'A') {
      buf.writeInt32BE(16, o);
      UUID.copy(buf, o + 4);
      o += 20;
    }
    buf.writeInt32BE(8, o);
    buf.writeInt32BE(Math.floor(row / TWO_32), o + 4);
    buf.writeUInt32BE(row % TWO_32, o + 8);
    o += 12;
    const us = (T0_MS + Math.floor(row / HOSTS) * 60_000 - PG_EPOCH_MS) * 1000;
    const hi = Math.floor(us / TWO_32);
    buf.writeInt32BE(8, o);
    buf.writeInt32BE(hi, o + 4);
    buf.writeUInt32BE(us - hi * TWO_32, o + 8);
    o += 12;
    o += HOST_FIELDS[row % HOSTS]!.copy(buf, o);
    buf.writeInt32BE(1, o);
    buf[o + 4] = c.anomaly[i]!;
    o += 5;
    const m = i * d;
    if (layout === 'A') {
      for (let j = 0; j < d; j++) {
        buf.writeInt32BE(8, o);
        buf.writeDoubleBE(c.metrics[m + j]!, o + 4);
        o += 12;
      }
    } else if (layout === 'C') {
      buf.writeInt32BE(8 * d, o);
      bytes.copy(buf, o + 4, 8 * m, 8 * (m + d));
      o += 4 + 8 * d;
    } else {
      // array: ndim, has-nulls flag, element type, then (length, lower bound) per dimension
      buf.writeInt32BE(20 + 12 * d, o);
      buf.writeInt32BE(1, o + 4);
      buf.writeInt32BE(0, o + 8);
      buf.writeInt32BE(FLOAT8_OID, o + 12);
      buf.writeInt32BE(d, o + 16);
      buf.writeInt32BE(1, o + 20);
      o += 24;
      for (let j = 0; j < d; j++) {
        buf.writeInt32BE(8, o);
        buf.writeDoubleBE(c.metrics[m + j]!, o + 4);
        o += 12;
      }
    }
  }
  return buf.subarray(0, o);
}

// ---------------------------------------------------------------------------------------------
// The tables
// ---------------------------------------------------------------------------------------------

const tableOf = (layout: LayoutName, d: number) =>
  `layout_${layout === 'A' ? 'a' : layout === 'B' ? 'b' : layout === "B'" ? 'b2' : 'c'}_${d}`;
const mcols = (d: number) => Array.from({ length: d }, (_, j) => `m${j + 1}`);

/** Creates the shared parents of B, B' and C (once). */
async function createParents(client: pg.Client): Promise<void> {
  for (const [name, type, tuned] of [
    ['layout_b', 'double precision[]', false],
    ['layout_b2', 'double precision[]', true],
    ['layout_c', 'bytea', true],
  ] as const) {
    await client.query(
      `CREATE TABLE ${name} (dataset_id uuid NOT NULL, row_id bigint NOT NULL, ts timestamptz NOT NULL,
         host_id text NOT NULL, is_anomaly boolean NOT NULL, metrics ${type} NOT NULL,
         PRIMARY KEY (dataset_id, row_id)) PARTITION BY LIST (dataset_id)`,
    );
    if (tuned) await client.query(`ALTER TABLE ${name} ALTER COLUMN metrics SET STORAGE EXTERNAL`);
  }
}

/** Loads the rows as ingest does: new table, COPY … FREEZE, primary key (+ attach), one transaction. */
async function load(client: pg.Client, layout: LayoutName, d: number, rows: number): Promise<void> {
  const t = tableOf(layout, d);
  await client.query('BEGIN');
  try {
    let cols: string;
    if (layout === 'A') {
      await client.query(
        `CREATE TABLE ${t} (row_id bigint NOT NULL, ts timestamptz NOT NULL, host_id text NOT NULL,
           is_anomaly boolean NOT NULL, ${mcols(d)
             .map((m) => `${m} double precision`)
             .join(', ')})`,
      );
      cols = `row_id, ts, host_id, is_anomaly, ${mcols(d).join(', ')}`;
    } else {
      const parent = t.replace(/_\d+$/, '');
      await client.query(
        `CREATE TABLE ${t} (LIKE ${parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE,
           CONSTRAINT ${t}_bound CHECK (dataset_id IS NOT NULL AND dataset_id = '${DATASET_ID}'::uuid))
           ${layout === 'B' ? '' : 'WITH (toast_tuple_target = 8160)'}`,
      );
      cols = 'dataset_id, row_id, ts, host_id, is_anomaly, metrics';
    }
    const sink = client.query(copyFrom(`COPY ${t} (${cols}) FROM STDIN WITH (FORMAT binary, FREEZE)`));
    function* tuples(): Generator<Buffer> {
      yield COPY_HEADER;
      for (const c of rowsOf(d, rows)) yield encode(layout, d, c);
      yield COPY_TRAILER;
    }
    await pipeline(Readable.from(tuples(), { objectMode: false }), sink);
    if (sink.rowCount !== rows) throw new Error(`${t}: COPY stored ${sink.rowCount} rows; expected ${rows}`);
    if (layout === 'A') {
      await client.query(`ALTER TABLE ${t} ADD PRIMARY KEY (row_id)`);
    } else {
      const parent = t.replace(/_\d+$/, '');
      await client.query(`ALTER TABLE ${t} ADD PRIMARY KEY (dataset_id, row_id)`);
      await client.query(`ALTER TABLE ${parent} ATTACH PARTITION ${t} FOR VALUES IN ('${DATASET_ID}')`);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/**
 * Reads a binary COPY of fixed-size tuples (`tupleBytes` each, `fields` fields), calling
 * `onTuple(buf, offset)` per tuple; returns the number of tuples.
 */
async function readFixed(
  client: pg.Client,
  sql: string,
  fields: number,
  tupleBytes: number,
  onTuple: (buf: Buffer, o: number) => void,
): Promise<number> {
  const stream = client.query(copyTo(sql)) as unknown as AsyncIterable<Buffer>;
  const part = Buffer.alloc(Math.max(tupleBytes, 19));
  let partLen = 0;
  let header = true;
  let skip = 0;
  let ended = false;
  let n = 0;
  const check = (buf: Buffer, o: number) => {
    const f = buf.readInt16BE(o);
    if (f !== fields) throw new Error(`COPY: a tuple of ${f} fields; expected ${fields}`);
  };
  for await (const data of stream) {
    let o = 0;
    if (header) {
      const take = Math.min(19 - partLen, data.length);
      data.copy(part, partLen, 0, take);
      partLen += take;
      o = take;
      if (partLen < 19) continue;
      if (!part.subarray(0, 11).equals(COPY_HEADER.subarray(0, 11))) throw new Error('not binary COPY');
      skip = part.readUInt32BE(15);
      partLen = 0;
      header = false;
    }
    if (skip > 0) {
      const s = Math.min(skip, data.length - o);
      skip -= s;
      o += s;
    }
    if (ended) continue;
    while (partLen > 0 && o < data.length) {
      if (partLen < 2) {
        part[partLen++] = data[o++]!;
        continue;
      }
      if (part.readInt16BE(0) === -1) {
        ended = true;
        partLen = 0;
        break;
      }
      const take = Math.min(tupleBytes - partLen, data.length - o);
      data.copy(part, partLen, o, o + take);
      partLen += take;
      o += take;
      if (partLen === tupleBytes) {
        check(part, 0);
        onTuple(part, 0);
        n++;
        partLen = 0;
      }
    }
    if (ended || partLen > 0) continue;
    while (o + 2 <= data.length) {
      if (data.readInt16BE(o) === -1) {
        ended = true;
        break;
      }
      if (o + tupleBytes > data.length) break;
      check(data, o);
      onTuple(data, o);
      o += tupleBytes;
      n++;
    }
    if (!ended && o < data.length) {
      data.copy(part, 0, o);
      partLen = data.length - o;
    }
  }
  if (!ended) throw new Error('COPY ended without its trailer');
  return n;
}

/** Where a layout's rows are read from, and how a dataset's rows are picked. */
const source = (layout: LayoutName, d: number) =>
  layout === 'A'
    ? { from: tableOf(layout, d), where: 'true' }
    : { from: tableOf(layout, d).replace(/_\d+$/, ''), where: `dataset_id = '${DATASET_ID}'` };

/** Training's and jobs' read: row_id and every metric in row order, into blocks; the sum of every value. */
async function readAll(
  client: pg.Client,
  layout: LayoutName,
  d: number,
): Promise<{ rows: number; sum: number }> {
  const { from, where } = source(layout, d);
  const sel = layout === 'A' ? mcols(d).join(', ') : 'metrics';
  const sql = `COPY (SELECT row_id, ${sel} FROM ${from} WHERE ${where} ORDER BY row_id) TO STDOUT (FORMAT binary)`;
  const rowIds = new Float64Array(READ_BLOCK);
  let block = new Float64Array(READ_BLOCK * d);
  let blockBytes = new Uint8Array(block.buffer);
  let r = 0;
  let sum = 0;
  const hand = () => {
    // the consumer: a pass over the block in row order
    for (let k = 0; k < r * d; k++) sum += block[k]!;
    block = new Float64Array(READ_BLOCK * d);
    blockBytes = new Uint8Array(block.buffer);
    r = 0;
  };
  let fields: number;
  let size: number;
  let onTuple: (buf: Buffer, o: number) => void;
  const rowId = (buf: Buffer, o: number) => buf.readInt32BE(o + 6) * TWO_32 + buf.readUInt32BE(o + 10);
  if (layout === 'A') {
    fields = 1 + d;
    size = 2 + 12 + 12 * d;
    onTuple = (buf, o) => {
      rowIds[r] = rowId(buf, o);
      const b = r * d;
      for (let j = 0; j < d; j++) block[b + j] = buf.readDoubleBE(o + 18 + 12 * j);
      if (++r === READ_BLOCK) hand();
    };
  } else if (layout === 'C') {
    fields = 2;
    size = 2 + 12 + 4 + 8 * d;
    onTuple = (buf, o) => {
      rowIds[r] = rowId(buf, o);
      blockBytes.set(buf.subarray(o + 18, o + 18 + 8 * d), 8 * r * d);
      if (++r === READ_BLOCK) hand();
    };
  } else {
    fields = 2;
    size = 2 + 12 + 4 + 20 + 12 * d;
    onTuple = (buf, o) => {
      rowIds[r] = rowId(buf, o);
      if (buf.readInt32BE(o + 30) !== d) throw new Error('array of another length');
      const b = r * d;
      for (let j = 0; j < d; j++) block[b + j] = buf.readDoubleBE(o + 42 + 12 * j);
      if (++r === READ_BLOCK) hand();
    };
  }
  const rows = await readFixed(client, sql, fields, size, onTuple);
  hand();
  return { rows, sum };
}

/** Analytics' read of one metric (0-based `mid`) for every row; the sum of its values. */
async function readOne(
  client: pg.Client,
  layout: LayoutName,
  d: number,
  mid: number,
): Promise<{ rows: number; sum: number }> {
  const { from, where } = source(layout, d);
  const expr =
    layout === 'A'
      ? `m${mid + 1}`
      : layout === 'C'
        ? `substr(metrics, ${8 * mid + 1}, 8)`
        : `metrics[${mid + 1}]`;
  let sum = 0;
  const rows = await readFixed(
    client,
    `COPY (SELECT ${expr} FROM ${from} WHERE ${where}) TO STDOUT (FORMAT binary)`,
    1,
    2 + 12,
    layout === 'C'
      ? (buf, o) => (sum += buf.readDoubleLE(o + 6))
      : (buf, o) => (sum += buf.readDoubleBE(o + 6)),
  );
  return { rows, sum };
}

/** The on-demand series of one metric in SQL: hourly count, avg, min and max. */
async function seriesOne(
  client: pg.Client,
  layout: LayoutName,
  d: number,
  mid: number,
): Promise<{ rows: number; sum: number }> {
  const { from, where } = source(layout, d);
  const x = layout === 'A' ? `m${mid + 1}` : `metrics[${mid + 1}]`;
  const { rows } = await client.query<{ n: string; a: number; lo: number; hi: number }>(
    `SELECT date_bin('1 hour', ts, timestamptz '1970-01-01 00:00:00+00') AS b, count(*) AS n,
            avg(${x}) AS a, min(${x}) AS lo, max(${x}) AS hi
       FROM ${from} WHERE ${where} GROUP BY 1 ORDER BY 1`,
  );
  let n = 0;
  let sum = 0;
  for (const r of rows) {
    n += Number(r.n);
    sum += Number(r.a) * Number(r.n);
  }
  return { rows: n, sum };
}

/**
 * Training's filtered second pass in miniature (src/db/robust-stats.ts): one SQL scan with, per
 * metric, a count below a bound and a sum of distances to it, over the rows with a `row_id`
 * below `every`. Returns the counts' total as
 * `rows` and the sums' total as `sum`.
 */
async function sqlEvery(
  client: pg.Client,
  layout: LayoutName,
  d: number,
  every: number,
): Promise<{ rows: number; sum: number }> {
  const { from, where } = source(layout, d);
  // One select-list entry per metric: PostgreSQL takes at most 1,664.
  const sel: string[] = [];
  for (let j = 0; j < d; j++) {
    const x = layout === 'A' ? `m${j + 1}` : `metrics[${j + 1}]`;
    const c = `${centre(j)}::float8`;
    sel.push(`ARRAY[(count(*) FILTER (WHERE ${x} < ${c}))::float8, sum(abs(${x} - ${c}))] AS v${j}`);
  }
  const { rows } = await client.query<Record<string, number[]>>(
    `SELECT ${sel.join(', ')} FROM ${from} WHERE ${where} AND row_id < ${every}`,
  );
  let n = 0;
  let sum = 0;
  for (let j = 0; j < d; j++) {
    const [count, spread] = rows[0]![`v${j}`]!;
    n += count!;
    sum += spread!;
  }
  return { rows: n, sum };
}

interface Want {
  rows: number;
  sum: number;
  /** Whether the sum must be equal bit for bit (else to 1e-12, relative). */
  exact: boolean;
  what: string;
}

/** Seconds and CPU ms of one run of `fn`, whose result is checked. */
async function timedRun(
  fn: () => Promise<{ rows: number; sum: number }>,
  want: Want,
): Promise<{ s: number; cpu: number }> {
  const c0 = cpuMs();
  const t0 = performance.now();
  const got = await fn();
  const s = (performance.now() - t0) / 1000;
  const cpu = cpuMs() - c0;
  const ok =
    got.rows === want.rows &&
    (want.exact ? got.sum === want.sum : Math.abs(got.sum - want.sum) <= 1e-12 * Math.abs(want.sum));
  if (!ok) {
    throw new Error(
      `${want.what}: read ${got.rows} rows summing to ${got.sum}; expected ${want.rows}, ${want.sum}`,
    );
  }
  return { s, cpu };
}

/** /proc/<pid>/stat of the bench's PostgreSQL backend, when the server runs on this machine. */
let backendStat: string | undefined;
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU milliseconds used so far by this process and the backend together (NaN when the backend's
 * figures cannot be read): unlike wall time, hardly changed by other work on a shared machine.
 */
function cpuMs(): number {
  const own = process.cpuUsage();
  if (backendStat === undefined) return NaN;
  let stat: string;
  try {
    stat = readFileSync(backendStat, 'utf8');
  } catch {
    return NaN;
  }
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  return (own.user + own.system) / 1000 + (ticks * 1000) / CLK_TCK;
}

async function sizeOf(client: pg.Client, t: string): Promise<{ total: number; toast: number }> {
  const { rows } = await client.query<{ total: string; toast: string }>(
    `SELECT pg_total_relation_size(c.oid) AS total,
            COALESCE(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0) AS toast
       FROM pg_class c WHERE c.oid = $1::regclass`,
    [t],
  );
  return { total: Number(rows[0]!.total), toast: Number(rows[0]!.toast) };
}

/** Best wall seconds and best CPU ms of an operation over its rounds. */
interface Best {
  s: number;
  cpu: number;
}
const OPS = ['ingest', 'all', 'one', 'series', 'every'] as const;
type Op = (typeof OPS)[number];
const OP_TITLES: Record<Op, string> = {
  ingest: 'ingest (COPY + PK)',
  all: 'all metrics, row order',
  one: 'one metric',
  series: 'SQL series, one metric',
  every: 'SQL pass, every metric',
};

/**
 * One width: every layout loaded LOAD_RUNS times in turn (the best counts; the last load stays),
 * then the reads in rounds, every layout once a round, so that a change in the machine's load
 * falls on every layout alike. Returns the wall-time table and the CPU table.
 */
async function measure(
  client: pg.Client,
  d: number,
  rows: number,
  feasibility: boolean,
): Promise<{ wall: Record<string, string | number>[]; cpu: Record<string, string | number>[] }> {
  const mid = Math.floor(d / 2);
  const every = Math.ceil(rows / EVERY_SHARE);
  const want = expected(d, rows, mid, every);
  const best = new Map<LayoutName, Map<Op, Best>>(LAYOUTS.map(({ name }) => [name, new Map()]));
  const failures = new Map<LayoutName, string>();
  const note = (name: LayoutName, op: Op, run: Best) => {
    const b = best.get(name)!;
    const old = b.get(op);
    b.set(op, old === undefined ? run : { s: Math.min(old.s, run.s), cpu: Math.min(old.cpu, run.cpu) });
  };
  for (let r = 0; r < (feasibility ? 1 : LOAD_RUNS); r++) {
    for (const { name } of LAYOUTS) {
      if (failures.has(name)) continue;
      await client.query(`DROP TABLE IF EXISTS ${tableOf(name, d)}`);
      const c0 = cpuMs();
      const t0 = performance.now();
      try {
        await load(client, name, d, rows);
      } catch (err) {
        failures.set(name, (err as Error).message);
        continue;
      }
      note(name, 'ingest', { s: (performance.now() - t0) / 1000, cpu: cpuMs() - c0 });
    }
  }
  const live = LAYOUTS.filter(({ name }) => !failures.has(name));
  for (const { name } of live) await client.query(`VACUUM (ANALYZE) ${tableOf(name, d)}`);
  // Round 0 warms the caches and is not counted (at the feasibility size, one counted round).
  for (let r = feasibility ? 1 : 0; r <= (feasibility ? 1 : READ_RUNS); r++) {
    for (const { name } of live) {
      const t = tableOf(name, d);
      const runs: [Op, Best][] = [
        [
          'all',
          await timedRun(() => readAll(client, name, d), {
            rows,
            sum: want.all,
            exact: true,
            what: `${t} all metrics`,
          }),
        ],
        [
          'one',
          await timedRun(() => readOne(client, name, d, mid), {
            rows,
            sum: want.one,
            exact: false,
            what: `${t} m${mid + 1}`,
          }),
        ],
      ];
      // No SQL reads a float64 out of a bytea.
      if (name !== 'C') {
        runs.push([
          'series',
          await timedRun(() => seriesOne(client, name, d, mid), {
            rows,
            sum: want.one,
            exact: false,
            what: `${t} series of m${mid + 1}`,
          }),
        ]);
        runs.push([
          'every',
          await timedRun(() => sqlEvery(client, name, d, every), {
            rows: want.below,
            sum: want.spread,
            exact: false,
            what: `${t} every-metric pass`,
          }),
        ]);
      }
      if (r > 0) for (const [op, run] of runs) note(name, op, run);
    }
  }
  const wall: Record<string, string | number>[] = [];
  const cpu: Record<string, string | number>[] = [];
  for (const { name, label } of LAYOUTS) {
    const failure = failures.get(name);
    const w: Record<string, string | number> = { layout: label };
    const c: Record<string, string | number> = { layout: label };
    const b = best.get(name)!;
    for (const op of OPS) {
      const f = b.get(op);
      const n = op === 'every' ? every : rows;
      w[`${OP_TITLES[op]} rows/s`] =
        failure !== undefined ? (op === 'ingest' ? `fails: ${failure}` : '—') : f ? n / f.s : 'n/a';
      c[`${OP_TITLES[op]} µs/row`] =
        failure !== undefined ? '—' : f ? (Number.isNaN(f.cpu) ? 'n/a' : (1000 * f.cpu) / n) : 'n/a';
    }
    if (failure === undefined) {
      const t = tableOf(name, d);
      const size = await sizeOf(client, t);
      w['MB (TOAST)'] = `${(size.total / 2 ** 20).toFixed(1)} (${(size.toast / 2 ** 20).toFixed(1)})`;
      w['bytes/row'] = size.total / rows;
      await client.query(`DROP TABLE ${t}`);
    } else {
      w['MB (TOAST)'] = '—';
      w['bytes/row'] = '—';
    }
    wall.push(w);
    cpu.push(c);
  }
  return { wall, cpu };
}

async function main(): Promise<void> {
  heading('Storage layout for any metric set (PostgreSQL)');
  const db = await benchDatabase();
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  client.on('error', () => {});
  try {
    const { rows: v } = await client.query<{ server_version: string; pid: number }>(
      'SELECT current_setting($1) AS server_version, pg_backend_pid() AS pid',
      ['server_version'],
    );
    const stat = `/proc/${v[0]!.pid}/stat`;
    if (existsSync(stat)) backendStat = stat;
    // One process does each statement, so that its CPU time is all of it.
    await client.query('SET max_parallel_workers_per_gather = 0');
    await client.query('SET max_parallel_maintenance_workers = 0');
    console.log(
      `PostgreSQL ${v[0]!.server_version}, no parallel workers; loads best of ${LOAD_RUNS}, reads best of ${READ_RUNS} rounds after an untimed one; ` +
        `CPU: ${backendStat ? 'the backend and this process together' : 'n/a (the server is not on this machine)'}\n`,
    );
    await createParents(client);
    for (const { d, rows, feasibility } of SIZES) {
      const { wall, cpu } = await measure(client, d, rows, feasibility === true);
      const title = `d = ${d}, ${rows.toLocaleString('en-US')} rows${feasibility ? ' (the most a dataset may declare)' : ''}`;
      console.log(`### ${title}: wall time\n`);
      table(wall);
      console.log(`### ${title}: CPU per row\n`);
      table(cpu);
    }
  } finally {
    await client.end();
    await db.close();
  }
}

await main();
