/**
 * The alert store (tables `alerts` and `alert_suppressed_minutes`), written by the live scorer
 * (source `live`) and by a dataset job's alert replay (source = the job's id), read by the API.
 *
 * Identity: an alert row is keyed by (source, host_id, opened_at) — unique by
 * db/migrations/0003_alerts.sql — and every save is an upsert on that key. A host opens at most one
 * alert per record time in a source (the alert manager takes each (ts, host_id) once, and shards
 * own disjoint hosts), so the key identifies the alert without remembering manager-local ids: a
 * live scorer that restarts from a snapshot updates the rows its predecessor inserted, and saving
 * the same state twice changes nothing but `updated_at`.
 *
 * Suppressed counts are added to the stored count of their (source, minute): several managers
 * (one per scorer shard) share the source `live`, so each adds its own increments (see
 * AlertManager.drainSuppressedCounts). A job replay deletes its source's rows first, in the same
 * transaction, and then adds its totals once.
 */
import { z } from 'zod';
import type { AlertEvent, AlertRecord } from '../core/alerts.js';
import { Id } from '../contract/common.js';
import { ValidationError } from '../core/errors.js';
import { METRICS } from '../core/types.js';
import { toDatabaseError } from './errors.js';
import { notifyAlertChanges, type AlertChange } from './events.js';
import { cursorTimestampSql, keysetCondition, toPage, type Page } from './pagination.js';
import type { Queryable } from './pool.js';
import { describe } from '../core/check.js';

/** Where alerts come from and what they belong to. */
export interface AlertTarget {
  /** `live`, or the job's id for a dataset job. */
  source: string;
  /** The job (uuid) for job alerts, else null/absent. */
  jobId?: string | null;
  /** The model (uuid) that scored the records. */
  modelId: string;
  /** The dataset (uuid) for job alerts, else null/absent. */
  datasetId?: string | null;
}

/** {@link saveAlertEvents}'s one-object form: final alert states instead of events. */
export interface AlertSave extends AlertTarget {
  alerts: readonly AlertRecord[];
  /** Metric names by index, to store the top metric by name (default METRICS). */
  metrics?: readonly string[];
}

/** {@link saveSuppressedCounts}'s one-object form. */
export interface SuppressedSave {
  source: string;
  jobId?: string | null;
  /** Minute start (ms since the Unix epoch) → suppressed alerts to add. */
  counts: ReadonlyMap<number, number>;
}

/** A stored alert. */
export interface StoredAlert {
  /** The row id (bigserial), as text. */
  id: string;
  source: string;
  jobId: string | null;
  modelId: string | null;
  datasetId: string | null;
  hostId: string;
  state: 'open' | 'closed';
  suppressed: boolean;
  openedAt: Date;
  closedAt: Date | null;
  peakScore: number;
  /** Name of the top metric at the peak, or null when none. */
  topMetric: string | null;
  records: number;
  updatedAt: Date;
}

/** Filters and page of {@link listAlerts}. */
export interface ListAlertsOptions {
  /** Page size, an integer in [1, 1000]. */
  limit: number;
  /** The previous page's `nextCursor`; absent for the first page. */
  cursor?: string | null;
  host?: string;
  modelId?: string;
  datasetId?: string;
  source?: string;
  state?: 'open' | 'closed';
  suppressed?: boolean;
}

/** Rows per INSERT statement (each column travels as one array parameter). */
const CHUNK = 5000;

/**
 * Stores alerts: inserts new ones and updates known ones (upsert on (source, host_id, opened_at)),
 * in one statement per 5000 alerts. Run it inside the caller's transaction when it must be atomic
 * with other writes (a job replay: delete, save, counts, completion).
 *
 * Two forms:
 * - `saveAlertEvents(client, target, events, metrics?)`: events as drained from an AlertManager;
 *   only each alert's last event in the list is written (events carry full copies, so the last
 *   one is the newest state).
 * - `saveAlertEvents(client, { ...target, alerts, metrics? })`: final alert states.
 *
 * @param client - a pool or a client (inside a transaction)
 * @param metrics - metric names by index for `top_metric` (default METRICS)
 * @returns the row id (text) of each saved alert, by manager-local alert id
 * @throws ValidationError when the target is malformed or a top metric index has no name
 * @example
 * const ids = await saveAlertEvents(pool, { source: 'live', modelId }, manager.drainEvents());
 */
export async function saveAlertEvents(
  client: Queryable,
  target: AlertTarget,
  events: readonly AlertEvent[],
  metrics?: readonly string[],
): Promise<Map<number, string>>;
export async function saveAlertEvents(client: Queryable, save: AlertSave): Promise<Map<number, string>>;
export async function saveAlertEvents(
  client: Queryable,
  target: AlertTarget | AlertSave,
  events?: readonly AlertEvent[],
  metrics?: readonly string[],
): Promise<Map<number, string>> {
  // Interpret the two forms
  let alerts: readonly AlertRecord[];
  let names: readonly string[];
  // What opened or closed in this save, for the live events (src/db/events.ts).
  const changed: { kind: 'opened' | 'closed'; alert: AlertRecord }[] = [];
  if (events !== undefined) {
    if (!isArray(events)) throw invalid('events', 'an array of alert events', events);
    const latest = new Map<number, AlertRecord>();
    for (const e of events) {
      latest.set(e.alert.id, e.alert);
      if (e.kind !== 'updated') changed.push({ kind: e.kind, alert: e.alert });
    }
    alerts = [...latest.values()];
    names = metrics ?? METRICS;
  } else {
    const save = target as AlertSave;
    if (!isArray(save.alerts)) throw invalid('alerts', 'an array of alerts', save.alerts);
    alerts = save.alerts;
    names = save.metrics ?? METRICS;
    for (const a of alerts) {
      changed.push({ kind: 'opened', alert: a });
      if (a.closedAt !== null) changed.push({ kind: 'closed', alert: a });
    }
  }
  // Validate
  checkTarget(target);
  const topNames = alerts.map((a, i) => {
    if (a.topMetric === -1) return null;
    const name = names[a.topMetric];
    if (name === undefined) {
      throw invalid(`alerts[${i}].topMetric`, `-1 or an index below ${names.length}`, a.topMetric);
    }
    return name;
  });

  // Upsert chunk by chunk; RETURNING gives each row's id with its key, mapped back to local ids.
  const ids = new Map<number, string>();
  for (let start = 0; start < alerts.length; start += CHUNK) {
    const chunk = alerts.slice(start, start + CHUNK);
    const localByKey = new Map(chunk.map((a) => [keyOf(a.hostId, a.openedAt), a.id]));
    const params = [
      target.source,
      target.jobId ?? null,
      target.modelId,
      target.datasetId ?? null,
      chunk.map((a) => a.hostId),
      chunk.map((a) => (a.closedAt === null ? 'open' : 'closed')),
      chunk.map((a) => a.suppressed),
      chunk.map((a) => a.openedAt),
      chunk.map((a) => a.closedAt),
      chunk.map((a) => a.peakScore),
      topNames.slice(start, start + CHUNK),
      chunk.map((a) => a.records),
    ];
    const { rows } = await run<{ id: string; host_id: string; opened_us: string }>(
      client,
      `INSERT INTO alerts (source, job_id, model_id, dataset_id, host_id, state, suppressed,
                           opened_at, closed_at, peak_score, top_metric, records)
       SELECT $1, $2::uuid, $3::uuid, $4::uuid, u.host_id, u.state, u.suppressed,
              timestamptz 'epoch' + u.opened_ms * interval '1 millisecond',
              timestamptz 'epoch' + u.closed_ms * interval '1 millisecond',
              u.peak_score, u.top_metric, u.records
       FROM unnest($5::text[], $6::text[], $7::boolean[], $8::float8[], $9::float8[],
                   $10::float8[], $11::text[], $12::integer[])
            AS u(host_id, state, suppressed, opened_ms, closed_ms, peak_score, top_metric, records)
       ON CONFLICT (source, host_id, opened_at) DO UPDATE SET
         state = EXCLUDED.state, suppressed = EXCLUDED.suppressed, closed_at = EXCLUDED.closed_at,
         peak_score = EXCLUDED.peak_score, top_metric = EXCLUDED.top_metric,
         records = EXCLUDED.records, updated_at = now()
       RETURNING id::text AS id, host_id,
                 round(extract(epoch FROM opened_at) * 1000000)::bigint::text AS opened_us`,
      params,
    );
    for (const r of rows) {
      const local = localByKey.get(`${r.opened_us}\u0000${r.host_id}`);
      if (local !== undefined) ids.set(local, r.id);
    }
  }

  // Announce openings and closings (suppressed alerts are stored, not notified).
  const changes: AlertChange[] = [];
  for (const { kind, alert } of changed) {
    const alertId = ids.get(alert.id);
    if (alert.suppressed || alertId === undefined) continue;
    changes.push({
      kind,
      alertId,
      hostId: alert.hostId,
      openedAt: alert.openedAt,
      closedAt: alert.closedAt,
      peakScore: alert.peakScore,
      topMetric: alert.topMetric === -1 ? null : (names[alert.topMetric] ?? null),
      records: alert.records,
    });
  }
  await notifyAlertChanges(client, target, changes);
  return ids;
}

/**
 * Adds suppressed-alert counts per calendar minute to `alert_suppressed_minutes` (upsert:
 * count = stored count + this count). Pass increments (AlertManager.drainSuppressedCounts), or
 * a manager's totals right after {@link deleteAlertsForSource} in the same transaction.
 *
 * @param client - a pool or a client
 * @throws ValidationError for a malformed count
 */
export async function saveSuppressedCounts(
  client: Queryable,
  source: string,
  jobId: string | null | undefined,
  counts: ReadonlyMap<number, number>,
): Promise<void>;
export async function saveSuppressedCounts(client: Queryable, save: SuppressedSave): Promise<void>;
export async function saveSuppressedCounts(
  client: Queryable,
  sourceOrSave: string | SuppressedSave,
  jobId?: string | null,
  counts?: ReadonlyMap<number, number>,
): Promise<void> {
  const save: SuppressedSave =
    typeof sourceOrSave === 'string'
      ? { source: sourceOrSave, jobId: jobId ?? null, counts: counts ?? new Map() }
      : sourceOrSave;
  // Validate
  checkSource(save.source);
  if (save.jobId != null && !Id.safeParse(save.jobId).success)
    throw invalid('jobId', 'a uuid or null', save.jobId);
  if (!isMap(save.counts)) throw invalid('counts', 'a Map of minute → count', save.counts);
  const minutes: number[] = [];
  const values: number[] = [];
  for (const [minute, n] of save.counts) {
    if (!Number.isInteger(minute) || minute % 60_000 !== 0) {
      throw invalid('counts key', 'a whole minute in ms since the Unix epoch', minute);
    }
    if (!Number.isInteger(n) || n < 0) throw invalid(`counts[${minute}]`, 'an integer ≥ 0', n);
    if (n === 0) continue;
    minutes.push(minute);
    values.push(n);
  }
  if (minutes.length === 0) return;
  await run(
    client,
    `INSERT INTO alert_suppressed_minutes (source, job_id, minute, count)
     SELECT $1, $2::uuid, timestamptz 'epoch' + u.minute_ms * interval '1 millisecond', u.n
     FROM unnest($3::bigint[], $4::integer[]) AS u(minute_ms, n)
     ON CONFLICT (source, minute) DO UPDATE
       SET count = alert_suppressed_minutes.count + EXCLUDED.count`,
    [save.source, save.jobId ?? null, minutes, values],
  );
}

/**
 * Deletes a source's alerts and suppressed counts (a job replay starts with it, in the
 * transaction that re-inserts; a cancelled job's outputs go with it). Idempotent.
 *
 * @returns how many alerts and minute rows were deleted
 */
export async function deleteAlertsForSource(
  client: Queryable,
  source: string,
): Promise<{ alerts: number; minutes: number }> {
  checkSource(source);
  const a = await run(client, 'DELETE FROM alerts WHERE source = $1', [source]);
  const m = await run(client, 'DELETE FROM alert_suppressed_minutes WHERE source = $1', [source]);
  return { alerts: a.rowCount ?? 0, minutes: m.rowCount ?? 0 };
}

/**
 * Suppressed counts of a source, oldest minute first.
 *
 * @returns minute start (ms since the Unix epoch) → count
 */
export async function listSuppressedCounts(client: Queryable, source: string): Promise<Map<number, number>> {
  checkSource(source);
  const { rows } = await run<{ minute_ms: string; count: number }>(
    client,
    `SELECT round(extract(epoch FROM minute) * 1000)::bigint::text AS minute_ms, count
     FROM alert_suppressed_minutes WHERE source = $1 ORDER BY minute`,
    [source],
  );
  return new Map(rows.map((r) => [Number(r.minute_ms), r.count]));
}

/** An open alert as stored, for a scorer that resumes it. */
export interface OpenAlertRow {
  hostId: string;
  /** ms since the Unix epoch. */
  openedMs: number;
  peakScore: number;
  /** The top metric's name, or null. */
  topMetric: string | null;
  records: number;
  suppressed: boolean;
}

const OpenRow = z.object({
  host_id: z.string(),
  opened_ms: z.number(),
  peak_score: z.number(),
  top_metric: z.string().nullable(),
  records: z.number().int(),
  suppressed: z.boolean(),
});
const ClosedRow = z.object({ host_id: z.string(), closed_ms: z.number() });

/**
 * The open alerts of a source, oldest first (then by host).
 *
 * @param db - pool or client
 * @param source - `live` or a job id
 */
export async function listOpenAlerts(db: Queryable, source: string): Promise<OpenAlertRow[]> {
  checkSource(source);
  const { rows } = await run(
    db,
    `SELECT host_id, (extract(epoch FROM opened_at) * 1000)::float8 AS opened_ms, peak_score,
            top_metric, records, suppressed
     FROM alerts WHERE source = $1 AND state = 'open' ORDER BY opened_at, host_id`,
    [source],
  );
  return rows.map((r) => {
    const a = OpenRow.parse(r);
    return {
      hostId: a.host_id,
      openedMs: a.opened_ms,
      peakScore: a.peak_score,
      topMetric: a.top_metric,
      records: a.records,
      suppressed: a.suppressed,
    };
  });
}

/**
 * The latest close of each host of a source, among the closes at most `withinMs` before the
 * source's newest close (older ones cannot hold a host in cooldown any more).
 *
 * @param db - pool or client
 * @param source - `live` or a job id
 * @param withinMs - the window before the newest close, ms
 * @returns host id and close time (ms since the Unix epoch), by host
 */
export async function listRecentCloses(
  db: Queryable,
  source: string,
  withinMs: number,
): Promise<{ hostId: string; closedMs: number }[]> {
  checkSource(source);
  const { rows } = await run(
    db,
    `SELECT DISTINCT ON (host_id) host_id, (extract(epoch FROM closed_at) * 1000)::float8 AS closed_ms
     FROM alerts
     WHERE source = $1 AND state = 'closed'
       AND closed_at >= (SELECT max(closed_at) FROM alerts WHERE source = $1 AND state = 'closed')
                        - $2 * interval '1 millisecond'
     ORDER BY host_id, closed_at DESC`,
    [source, withinMs],
  );
  return rows.map((r) => {
    const c = ClosedRow.parse(r);
    return { hostId: c.host_id, closedMs: c.closed_ms };
  });
}

const AlertRow = z.object({
  id: z.string(),
  source: z.string(),
  job_id: z.string().nullable(),
  model_id: z.string().nullable(),
  dataset_id: z.string().nullable(),
  host_id: z.string(),
  state: z.enum(['open', 'closed']),
  suppressed: z.boolean(),
  opened_at: z.date(),
  closed_at: z.date().nullable(),
  peak_score: z.number(),
  top_metric: z.string().nullable(),
  records: z.number().int(),
  updated_at: z.date(),
  cursor_ts: z.string(),
});

/**
 * A page of alerts, newest first (by opened_at, then id), with an opaque cursor.
 *
 * @param db - pool or client
 * @param options - page size, cursor and filters (all combined with AND)
 * @throws ValidationError when an option or the cursor is malformed
 * @example
 * const page = await listAlerts(pool, { limit: 50, source: 'live', state: 'open' });
 * const next = await listAlerts(pool, { limit: 50, source: 'live', state: 'open', cursor: page.nextCursor });
 */
export async function listAlerts(db: Queryable, options: ListAlertsOptions): Promise<Page<StoredAlert>> {
  // Validate
  const { limit } = options;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw invalid('limit', 'an integer in [1, 1000]', limit);
  }
  for (const key of ['modelId', 'datasetId'] as const) {
    const v = options[key];
    if (v !== undefined && !Id.safeParse(v).success) throw invalid(key, 'a uuid', v);
  }
  if (options.state !== undefined && options.state !== 'open' && options.state !== 'closed') {
    throw invalid('state', '"open" or "closed"', options.state);
  }
  if (options.suppressed !== undefined && typeof options.suppressed !== 'boolean') {
    throw invalid('suppressed', 'a boolean', options.suppressed);
  }
  for (const key of ['host', 'source'] as const) {
    const v = options[key];
    if (v !== undefined && typeof v !== 'string') throw invalid(key, 'a string', v);
  }

  // Build the filter from fixed column names; only the values are parameters.
  const params: unknown[] = [];
  const where = [keysetCondition(options.cursor, params, 'bigint', 'opened_at')];
  const filters: [unknown, string][] = [
    [options.host, 'host_id'],
    [options.modelId, 'model_id'],
    [options.datasetId, 'dataset_id'],
    [options.source, 'source'],
    [options.state, 'state'],
    [options.suppressed, 'suppressed'],
  ];
  for (const [value, column] of filters) {
    if (value === undefined) continue;
    params.push(value);
    where.push(`${column} = $${params.length}`);
  }
  params.push(limit + 1);
  const { rows } = await run(
    db,
    `SELECT id::text AS id, source, job_id::text AS job_id, model_id::text AS model_id,
            dataset_id::text AS dataset_id, host_id, state, suppressed, opened_at, closed_at,
            peak_score, top_metric, records, updated_at,
            ${cursorTimestampSql('opened_at')} AS cursor_ts
     FROM alerts WHERE ${where.join(' AND ')}
     ORDER BY opened_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  const parsed = rows.map((r) => AlertRow.parse(r));
  return toPage(
    parsed,
    limit,
    (r) => ({ ts: r.cursor_ts, id: r.id }),
    (r) => ({
      id: r.id,
      source: r.source,
      jobId: r.job_id,
      modelId: r.model_id,
      datasetId: r.dataset_id,
      hostId: r.host_id,
      state: r.state,
      suppressed: r.suppressed,
      openedAt: r.opened_at,
      closedAt: r.closed_at,
      peakScore: r.peak_score,
      topMetric: r.top_metric,
      records: r.records,
      updatedAt: r.updated_at,
    }),
  );
}

/** The store's key of an alert as text: opened_at in whole microseconds (the column's precision). */
function keyOf(hostId: string, openedAtMs: number): string {
  return `${Math.round(openedAtMs * 1000)}\u0000${hostId}`;
}

function checkTarget(t: AlertTarget): void {
  if (typeof t !== 'object' || t === null) throw invalid('target', 'an object', t);
  checkSource(t.source);
  if (!Id.safeParse(t.modelId).success) throw invalid('modelId', 'a uuid', t.modelId);
  if (t.jobId != null && !Id.safeParse(t.jobId).success) throw invalid('jobId', 'a uuid or null', t.jobId);
  if (t.datasetId != null && !Id.safeParse(t.datasetId).success) {
    throw invalid('datasetId', 'a uuid or null', t.datasetId);
  }
}

function checkSource(source: unknown): void {
  if (typeof source !== 'string' || source.length === 0) {
    throw invalid('source', 'a non-empty string ("live" or a job id)', source);
  }
}

function invalid(name: string, expected: string, got: unknown): ValidationError {
  const message = `${name} must be ${expected}; got ${describe(got)}`;
  return new ValidationError(message, [{ path: name, message }]);
}

/** Array.isArray and instanceof Map without their narrowing to any (which erases element types). */
function isArray(v: unknown): boolean {
  return Array.isArray(v);
}

function isMap(v: unknown): boolean {
  return v instanceof Map;
}

async function run<R extends Record<string, unknown> = Record<string, unknown>>(
  db: Queryable,
  sql: string,
  params: unknown[],
): Promise<{ rows: R[]; rowCount: number | null }> {
  try {
    return await db.query<R>(sql, params);
  } catch (err) {
    throw toDatabaseError(err);
  }
}
