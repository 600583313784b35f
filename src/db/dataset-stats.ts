/**
 * The SQL, COPY readers and rows of dataset analytics (DESIGN.md "Analytics"): the stored stats
 * (`dataset_stats`, `dataset_stats_series`; each metric's sorted values in `dataset_stats_sorted`
 * through ./sorted-values.ts), the filter indexes of a dataset's partition, the value counts of
 * the top-k columns, binary COPY readers of a dataset's rows and of one host's, and the
 * on-demand series aggregate. The precompute and the answers are src/jobs/analytics.ts; the
 * kernels src/core/stats/summary.ts.
 */
import type { Readable } from 'node:stream';
import { to as copyTo } from 'pg-copy-streams';
import { ANALYTICS_LIMITS } from '../contract/analytics.js';
import { Id } from '../contract/common.js';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import { Float64List } from '../core/float64-list.js';
import { METRICS, type MetricName } from '../core/types.js';
import { toDatabaseError } from './errors.js';
import type { Pool, PoolClient, Queryable } from './pool.js';
import { float64Bytes, float64sOf } from '../core/stats/sorted.js';
import { storeSortedColumn } from './sorted-values.js';

/**
 * Layout version of `dataset_stats`; rows of another version are computed again when read.
 * 2: same documents as 1, but computing them also builds the covering `(host_id, ts)` and BRIN
 * `ts` indexes the one-host and time-range questions rely on.
 * 3: also every metric's sorted values (`dataset_stats_sorted`) for exact histograms over any
 * range and bin number.
 */
export const STATS_VERSION = 3;

/** Series bytes sent per INSERT at the most (but at least one column). */
const SERIES_BYTES_PER_INSERT = 4 << 20;

/** Advisory-lock class of the stats computation (the second key is the dataset's hash). */
const STATS_LOCK_CLASS = 70_411;

/** Seconds between the Unix epoch and PostgreSQL's (2000-01-01), the origin of binary `ts`. */
const PG_EPOCH_S = 946_684_800;

/**
 * A dataset id checked to be a lower-case UUID (so that it may appear as a SQL literal).
 *
 * @returns the id in lower case
 * @throws ValidationError when it is not a UUID
 */
export function checkedDatasetId(datasetId: string): string {
  const id = Id.safeParse(datasetId);
  if (!id.success) throw new ValidationError(`dataset id must be a UUID; got ${JSON.stringify(datasetId)}`);
  return id.data;
}

/**
 * The qualified, quoted name of a dataset's telemetry partition, found by its bound whatever its
 * name (a dataset's partition keeps its name for its life). One host's rows are read from the
 * partition itself: a `dataset_id` condition on the parent would stay as a filter on the
 * partition and rule out an index-only scan.
 *
 * @param id - a dataset id checked by {@link checkedDatasetId}
 * @throws NotFoundError when the dataset has no partition
 */
export async function telemetryPartition(q: Queryable, id: string): Promise<string> {
  const { rows } = await q.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE i.inhparent = 'host_telemetry_archival'::regclass
        AND pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES IN (%L)', $1::text)`,
    [id],
  );
  const name = rows[0]?.name;
  if (name === undefined) throw new NotFoundError('telemetry partition of dataset', id);
  return name;
}

/**
 * Creates the indexes analytics questions with a filter use on a dataset's partition, if they
 * are missing, after a `VACUUM (ANALYZE)` of the partition (planner statistics, and the
 * visibility map that lets one host's rows be read from the index alone):
 * - `(host_id, ts) INCLUDE (is_anomaly, <metrics>)`: one host's rows, in time order, by an
 *   index-only scan — a host's rows are spread over every page of a time-ordered partition, so
 *   reading them from the heap would touch most of it;
 * - a BRIN index on `ts` for a time range: rows are stored in time order, so block ranges
 *   bound it at a fraction of a B-tree's build cost.
 *
 * Call it after the partition is filled (COPY, then indexes, is far cheaper than indexing during
 * the load); the analytics precompute (src/jobs/analytics.ts) calls it too, side by side with its
 * own work.
 *
 * @param client - a connection outside a transaction (VACUUM cannot run inside one); its
 *   `maintenance_work_mem` is raised for the build and reset after
 * @param datasetId - the dataset's UUID
 * @throws NotFoundError when the dataset has no partition
 */
export async function createTelemetryIndexes(client: PoolClient, datasetId: string): Promise<void> {
  const id = checkedDatasetId(datasetId);
  try {
    const partition = await telemetryPartition(client, id);
    const hex = id.replaceAll('-', '');
    await client.query(`VACUUM (ANALYZE) ${partition}`);
    await client.query(`SET maintenance_work_mem = '256MB'`);
    try {
      await client.query(
        `CREATE INDEX IF NOT EXISTS "hta_${hex}_host_cov" ON ${partition} (host_id, ts)
           INCLUDE (is_anomaly, ${METRICS.join(', ')})`,
      );
      await client.query(`CREATE INDEX IF NOT EXISTS "hta_${hex}_ts_brin" ON ${partition} USING brin (ts)`);
    } finally {
      await client.query('RESET maintenance_work_mem');
    }
  } catch (err) {
    throw toDatabaseError(err);
  }
}

/** Checks that the dataset exists (else 404) and is completed (else 409). */
export async function requireCompleted(q: Queryable, id: string): Promise<void> {
  const { rows } = await q.query<{ status: string }>('SELECT status FROM datasets WHERE id = $1', [id]);
  const status = rows[0]?.status;
  if (status === undefined) throw new NotFoundError('dataset', id);
  if (status !== 'completed') {
    throw new ConflictError(`dataset ${id} is ${status}; analytics need a completed dataset`, { status });
  }
}

/** A histogram stored in `dataset_stats`, at one range and every standard bin number. */
export interface StoredHistogram {
  lo: number | null;
  hi: number | null;
  /** Values below lo and above hi (none for minmax). */
  below: number;
  above: number;
  /** Counts per bin, by bin number. */
  counts: Record<string, number[]>;
}

/** Value counts of each top-k column: (value, rows) pairs. */
export type ValueCounts = Record<
  'region' | 'project_id' | 'host_id' | 'anomaly_type',
  [string | null, number][]
>;

/** What `dataset_stats` holds for a dataset; the summary document is the caller's (`S`), stored as it is. */
export interface StoredStats<S> {
  summary: S;
  topk: ValueCounts;
  histograms: Record<MetricName, { minmax: StoredHistogram; p1p99: StoredHistogram }>;
  /** Buckets stored per bucket width in seconds (null: the width was not stored). */
  seriesBuckets: Record<string, number | null>;
}

/** The dataset's stored stats of the current {@link STATS_VERSION}, or null. */
export async function readStats<S>(q: Queryable, id: string): Promise<StoredStats<S> | null> {
  const { rows } = await q.query<{
    summary: S;
    topk: ValueCounts;
    histograms: StoredStats<S>['histograms'];
    series_buckets: StoredStats<S>['seriesBuckets'];
  }>(
    `SELECT summary, topk, histograms, series_buckets FROM dataset_stats WHERE dataset_id = $1 AND version = $2`,
    [id, STATS_VERSION],
  );
  const r = rows[0];
  if (!r) return null;
  return { summary: r.summary, topk: r.topk, histograms: r.histograms, seriesBuckets: r.series_buckets };
}

/**
 * Value counts of every top-k column in one grouping-sets pass, in a transaction of its own (run
 * on its own connection, side by side with the COPY of the rows); each list in no set order.
 */
export async function readValueCounts(client: PoolClient, id: string): Promise<ValueCounts> {
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL work_mem = '256MB'`);
    const { rows } = await client.query<{
      g: number;
      host_id: string | null;
      project_id: string | null;
      region: string | null;
      anomaly_type: string | null;
      n: string;
    }>(
      `SELECT GROUPING(host_id, project_id, region, anomaly_type) AS g,
              host_id, project_id, region, anomaly_type, count(*) AS n
         FROM host_telemetry_archival WHERE dataset_id = $1
        GROUP BY GROUPING SETS ((host_id), (project_id), (region), (anomaly_type))`,
      [id],
    );
    await client.query('COMMIT');
    const topk: ValueCounts = { region: [], project_id: [], host_id: [], anomaly_type: [] };
    // GROUPING's bits, highest first: host_id, project_id, region, anomaly_type; a set leaves its
    // own column's bit clear.
    for (const r of rows) {
      const n = Number(r.n);
      if (r.g === 0b0111) topk.host_id.push([r.host_id, n]);
      else if (r.g === 0b1011) topk.project_id.push([r.project_id, n]);
      else if (r.g === 0b1101) topk.region.push([r.region, n]);
      else if (r.g === 0b1110) topk.anomaly_type.push([r.anomaly_type, n]);
    }
    return topk;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/**
 * Reads a binary COPY whose rows all have `fields` NOT NULL fixed-width columns of the given byte
 * widths, calling `onRow(buf, offsets)` per row with the offset of each field's value. Returns
 * the number of rows.
 */
async function copyFixedRows(
  client: PoolClient,
  sql: string,
  widths: readonly number[],
  onRow: (buf: Buffer, at: Int32Array) => void,
): Promise<number> {
  const fields = widths.length;
  const rel = new Int32Array(fields);
  let size = 2;
  widths.forEach((w, j) => {
    rel[j] = size + 4;
    size += 4 + w;
  });
  const at = new Int32Array(fields);
  let stream: Readable;
  try {
    stream = client.query(copyTo(sql));
  } catch (err) {
    throw toDatabaseError(err);
  }
  let head: Buffer | null = null;
  let headerDone = false;
  // A row split between chunks: its first bytes, copied (only rows, never whole chunks, are
  // copied, so the stream's garbage stays the chunks themselves).
  const partial = Buffer.alloc(size);
  let partialLength = 0;
  let ended = false;
  let seen = 0;
  try {
    for await (const data of stream as AsyncIterable<Buffer>) {
      let buf = data;
      let o = 0;
      if (!headerDone) {
        // Signature (11 bytes), flags (4), header extension length (4) and extension.
        buf = head ? Buffer.concat([head, data]) : data;
        if (buf.length < 19 || buf.length < 19 + buf.readUInt32BE(15)) {
          head = buf;
          continue;
        }
        o = 19 + buf.readUInt32BE(15);
        head = null;
        headerDone = true;
      }
      if (ended) continue;
      if (partialLength > 0) {
        // Complete the split row (or the trailer, two bytes of −1).
        const need = Math.min(size - partialLength, buf.length - o);
        buf.copy(partial, partialLength, o, o + need);
        partialLength += need;
        o += need;
        if (partialLength >= 2 && partial.readInt16BE(0) === -1) {
          ended = true;
          continue;
        }
        if (partialLength < size) continue;
        const n = partial.readInt16BE(0);
        if (n !== fields) throw new Error(`COPY: ${n} fields in a row, expected ${fields}`);
        for (let j = 0; j < fields; j++) at[j] = rel[j]!;
        onRow(partial, at);
        seen++;
        partialLength = 0;
      }
      while (buf.length - o >= size) {
        const n = buf.readInt16BE(o);
        if (n === -1) break; // trailer
        if (n !== fields) throw new Error(`COPY: ${n} fields in a row, expected ${fields}`);
        for (let j = 0; j < fields; j++) at[j] = o + rel[j]!;
        onRow(buf, at);
        o += size;
        seen++;
      }
      if (buf.length - o >= 2 && buf.readInt16BE(o) === -1) {
        ended = true;
        continue;
      }
      buf.copy(partial, 0, o);
      partialLength = buf.length - o;
    }
  } catch (err) {
    stream.destroy();
    throw toDatabaseError(err);
  }
  return seen;
}

/** Microseconds since the Unix epoch of a binary `timestamptz` (exact in a double for ±285 years). */
function readTs(buf: Buffer, o: number): number {
  return buf.readInt32BE(o) * 4_294_967_296 + buf.readUInt32BE(o + 4) + PG_EPOCH_S * 1_000_000;
}

/** A row's time (µs since the epoch), label and metric values (a buffer reused for every row). */
export type RowHandler = (us: number, anomalous: boolean, values: Float64Array) => void;

/**
 * One binary COPY of `ts`, `is_anomaly` and every metric of a dataset's rows, in storage order,
 * calling `onRow` per row with the metrics in {@link METRICS} order.
 *
 * @param id - a dataset id checked by {@link checkedDatasetId}
 * @returns the number of rows
 */
export async function copyDatasetRows(client: PoolClient, id: string, onRow: RowHandler): Promise<number> {
  const k = METRICS.length;
  const values = new Float64Array(k);
  const sql = `COPY (SELECT ts, is_anomaly, ${METRICS.join(', ')} FROM host_telemetry_archival
                      WHERE dataset_id = '${id}') TO STDOUT (FORMAT binary)`;
  return copyFixedRows(client, sql, [8, 1, ...METRICS.map(() => 8)], (buf, at) => {
    for (let j = 0; j < k; j++) values[j] = buf.readDoubleBE(at[j + 2]);
    onRow(readTs(buf, at[0]!), buf[at[1]!] === 1, values);
  });
}

const HOST_ID = /^[A-Za-z0-9._:-]{1,200}$/;

/** The WHERE text of one host's rows (the host id checked, so that it may appear as a literal). */
function hostWhere(hostId: string, from?: Date, to?: Date): string {
  if (!HOST_ID.test(hostId)) {
    throw new ValidationError(
      `host_id must be 1–${ANALYTICS_LIMITS.maxHostIdLength} letters, digits or . _ : -; got ${JSON.stringify(hostId)}`,
    );
  }
  let where = `host_id = '${hostId}'`;
  if (from !== undefined) where += ` AND ts >= '${from.toISOString()}'::timestamptz`;
  if (to !== undefined) where += ` AND ts < '${to.toISOString()}'::timestamptz`;
  return where;
}

/**
 * One host's values of a metric (any order), read from its partition (the covering index).
 *
 * @param partition - the dataset's partition ({@link telemetryPartition})
 * @throws ValidationError for a host id outside the accepted characters
 */
export async function copyHostValues(
  pool: Pool,
  partition: string,
  hostId: string,
  metric: MetricName,
): Promise<Float64Array> {
  const where = hostWhere(hostId);
  const out = new Float64List();
  const client = await pool.connect();
  try {
    await copyFixedRows(
      client,
      `COPY (SELECT ${metric} FROM ${partition} WHERE ${where}) TO STDOUT (FORMAT binary)`,
      [8],
      (buf, at) => out.push(buf.readDoubleBE(at[0])),
    );
  } finally {
    client.release();
  }
  return out.view();
}

/**
 * One host's rows in time order (the covering `(host_id, ts)` index gives that order without a
 * sort), `from` inclusive and `to` exclusive, calling `onRow` with the values of `metrics`.
 *
 * @param partition - the dataset's partition ({@link telemetryPartition})
 * @throws ValidationError for a host id outside the accepted characters
 */
export async function copyHostRows(
  pool: Pool,
  partition: string,
  filter: { hostId: string; from?: Date | undefined; to?: Date | undefined },
  metrics: readonly MetricName[],
  onRow: RowHandler,
): Promise<void> {
  const k = metrics.length;
  const values = new Float64Array(k);
  const where = hostWhere(filter.hostId, filter.from, filter.to);
  const client = await pool.connect();
  try {
    await copyFixedRows(
      client,
      `COPY (SELECT ts, is_anomaly${metrics.map((m) => `, ${m}`).join('')} FROM ${partition}
              WHERE ${where} ORDER BY ts) TO STDOUT (FORMAT binary)`,
      [8, 1, ...metrics.map(() => 8)],
      (buf, at) => {
        for (let j = 0; j < k; j++) values[j] = buf.readDoubleBE(at[j + 2]);
        onRow(readTs(buf, at[0]!), buf[at[1]!] === 1, values);
      },
    );
  } finally {
    client.release();
  }
}

/** Stored series columns (`start`, `count`, `anomalies`, `<metric>.<agg>`) of one bucket width, by name. */
export async function readSeriesColumns(
  q: Queryable,
  id: string,
  seconds: number,
  names: readonly string[],
): Promise<Map<string, Float64Array>> {
  const { rows } = await q.query<{ name: string; data: Buffer }>(
    'SELECT name, data FROM dataset_stats_series WHERE dataset_id = $1 AND bucket_s = $2 AND name = ANY($3::text[])',
    [id, seconds, names],
  );
  return new Map(rows.map((r) => [r.name, float64sOf(r.data)]));
}

/** An aggregate of a series bucket, computed in SQL. */
export type SeriesAgg = 'mean' | 'min' | 'max' | 'p95';

// Aggregate expressions by name: the only SQL a timeseries question chooses from.
const AGG_SQL: Record<SeriesAgg, (m: MetricName) => string> = {
  mean: (m) => `avg(${m})`,
  min: (m) => `min(${m})`,
  max: (m) => `max(${m})`,
  p95: (m) => `percentile_cont(0.95) WITHIN GROUP (ORDER BY ${m})`,
};

/**
 * A fleet-wide series of a time range (`from` inclusive, `to` exclusive) by one GROUP BY over the
 * rows: per epoch-aligned bucket holding rows, its start (epoch seconds), rows, anomalous rows and
 * each `metric.agg` asked for.
 */
export async function aggregateSeries(
  q: Queryable,
  id: string,
  range: { from?: Date | undefined; to?: Date | undefined },
  seconds: number,
  wanted: readonly { metric: MetricName; agg: SeriesAgg }[],
): Promise<{ starts: number[]; counts: number[]; anomalies: number[]; values: Map<string, number[]> }> {
  const params: unknown[] = [id];
  let where = 'dataset_id = $1';
  if (range.from !== undefined) {
    params.push(range.from.toISOString());
    where += ` AND ts >= $${params.length}::timestamptz`;
  }
  if (range.to !== undefined) {
    params.push(range.to.toISOString());
    where += ` AND ts < $${params.length}::timestamptz`;
  }
  params.push(seconds);
  // Expressions come from the fixed map.
  const exprs = wanted.map(({ metric, agg }) => `${AGG_SQL[agg](metric)} AS "${metric}.${agg}"`);
  const { rows } = await q.query<Record<string, number | string>>(
    `SELECT extract(epoch FROM date_bin(make_interval(secs => $${params.length}), ts, timestamptz '1970-01-01 00:00:00+00'))::float8 AS b,
            count(*)::float8 AS n, (count(*) FILTER (WHERE is_anomaly))::float8 AS a
            ${exprs.length > 0 ? ', ' + exprs.join(', ') : ''}
       FROM host_telemetry_archival WHERE ${where}
      GROUP BY 1 ORDER BY 1`,
    params,
  );
  const values = new Map<string, number[]>();
  for (const { metric, agg } of wanted) {
    const key = `${metric}.${agg}`;
    values.set(
      key,
      rows.map((r) => Number(r[key])),
    );
  }
  return {
    starts: rows.map((r) => Number(r.b)),
    counts: rows.map((r) => Number(r.n)),
    anomalies: rows.map((r) => Number(r.a)),
    values,
  };
}

/** Runs `task` on a connection of its own, released after. */
export async function onOwnConnection<T>(pool: Pool, task: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken = false;
  try {
    return await task(c);
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    c.release(broken);
  }
}

/**
 * Runs `task` on a connection holding the dataset's stats lock (an advisory lock: one
 * computation per dataset at a time, across servers), released after.
 *
 * @throws the task's error, or a database error, mapped by toDatabaseError
 */
export async function withStatsLock<T>(
  pool: Pool,
  id: string,
  task: (c: PoolClient) => Promise<T>,
): Promise<T> {
  let lockClient: PoolClient;
  try {
    lockClient = await pool.connect();
  } catch (err) {
    throw toDatabaseError(err);
  }
  let broken = false;
  try {
    await lockClient.query('SELECT pg_advisory_lock($1, hashtext($2))', [STATS_LOCK_CLASS, id]);
    try {
      return await task(lockClient);
    } finally {
      await lockClient
        .query('SELECT pg_advisory_unlock($1, hashtext($2))', [STATS_LOCK_CLASS, id])
        .catch(() => (broken = true));
    }
  } catch (err) {
    throw toDatabaseError(err);
  } finally {
    lockClient.release(broken);
  }
}

/** What {@link storeStats} writes of a dataset. */
export interface StatsToStore<S> extends StoredStats<S> {
  /** The dataset's rows (the length of each sorted column). */
  rows: number;
  /** Stored series columns per bucket width in seconds, by name. */
  series: Map<number, Map<string, Float64Array>>;
}

/**
 * Replaces a dataset's stored stats in one transaction: the documents, the series columns, and
 * each metric's sorted values, read through `readSorted(j, start, out)` (metric j in
 * {@link METRICS} order, from rank `start`) in chunks of `chunk` values.
 *
 * @param ms - the computation's duration, kept beside the stats
 */
export async function storeStats<S>(
  client: PoolClient,
  id: string,
  s: StatsToStore<S>,
  readSorted: (j: number, start: number, out: Float64Array) => void,
  chunk: number,
  ms: number,
): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('DELETE FROM dataset_stats WHERE dataset_id = $1', [id]);
    await client.query(
      `INSERT INTO dataset_stats (dataset_id, version, summary, topk, histograms, series_buckets, compute_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        id,
        STATS_VERSION,
        JSON.stringify(s.summary),
        JSON.stringify(s.topk),
        JSON.stringify(s.histograms),
        JSON.stringify(s.seriesBuckets),
        ms,
      ],
    );
    // Each column its own bytea parameter, sent in binary (a bytea[] parameter would go as text,
    // every byte written out in hex, several times the columns' size in memory at once), a few
    // MiB per statement (the driver copies a statement's parameters into one message).
    for (const [seconds, cols] of s.series) {
      const entries = [...cols];
      for (let i = 0; i < entries.length;) {
        const params: unknown[] = [id, seconds];
        const rows: string[] = [];
        let bytes = 0;
        for (; i < entries.length && (rows.length === 0 || bytes < SERIES_BYTES_PER_INSERT); i++) {
          const [name, data] = entries[i]!;
          const at = params.push(name, float64Bytes(data));
          rows.push(`($1, $2, $${at - 1}, $${at})`);
          bytes += data.byteLength;
        }
        await client.query(
          `INSERT INTO dataset_stats_series (dataset_id, bucket_s, name, data) VALUES ${rows.join(', ')}`,
          params,
        );
      }
    }
    // Each metric's sorted values, read back a batch of chunks at a time.
    for (const [j, metric] of METRICS.entries()) {
      await storeSortedColumn(client, id, metric, s.rows, (start, out) => readSorted(j, start, out), chunk);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
