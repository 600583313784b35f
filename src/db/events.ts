/**
 * Live events across processes, over PostgreSQL LISTEN/NOTIFY on one channel.
 *
 * Any process that changes a dataset, model, job or alert (a server's generation, training and
 * job runners, a separate `tads scorer`) sends a small event with {@link notifyEvent}; every
 * server listens with {@link listenEvents} and hands the events to its WebSocket clients. Inside
 * a transaction, PostgreSQL delivers the notification at COMMIT, and not at all on ROLLBACK, so
 * an event never announces a change that did not happen.
 *
 * Payloads are the WebSocket event messages of src/contract/ws.ts (ids and counters, well under
 * PostgreSQL's 8000-byte limit), validated when sent and again when received. Progress events
 * are throttled per resource ({@link PROGRESS_MIN_INTERVAL_MS}).
 *
 * Repository functions call the `notify*` helpers right after their write. Called with the pool
 * (no transaction), a helper absorbs its own failure: the change is committed, and a lost live
 * event must not turn it into an error. Called with a transaction's client, it lets failures
 * through, because a failed statement aborts the transaction and the caller must know.
 */
import pg from 'pg';
import { z } from 'zod';
import { WsEventSchema, type WsEvent } from '../contract/ws.js';
import type { Pool, Queryable } from './pool.js';

/** The channel every TADS process notifies and listens on. */
export const EVENTS_CHANNEL = 'tads_events';

/** Largest payload PostgreSQL accepts for NOTIFY (bytes, exclusive). */
export const MAX_PAYLOAD_BYTES = 8000;

/** Least time between two progress events of one resource, in ms (4 per second). */
export const PROGRESS_MIN_INTERVAL_MS = 250;

/** Most alert events sent one by one from one save; more become one `alert.bulk` event. */
export const MAX_ALERT_EVENTS_PER_SAVE = 100;

/**
 * Sends one event on {@link EVENTS_CHANNEL}.
 *
 * @param db - the pool, or a transaction's client (then it is delivered at COMMIT)
 * @param event - a WebSocket event message (src/contract/ws.ts)
 * @throws TypeError when the event breaks the contract or its JSON reaches 8000 bytes
 * @example
 * await notifyEvent(pool, { type: 'dataset.progress', dataset_id: id, row_count: 500, rows_total: 1000 });
 */
export async function notifyEvent(db: Queryable, event: WsEvent): Promise<void> {
  const payload = encodeEvent(event);
  await db.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, payload]);
}

/** Validates an event and returns its JSON payload. */
function encodeEvent(event: WsEvent): string {
  const parsed = WsEventSchema.safeParse(event);
  if (!parsed.success)
    throw new TypeError(`event must match the WebSocket contract: ${parsed.error.message}`);
  const payload = JSON.stringify(parsed.data);
  if (Buffer.byteLength(payload) >= MAX_PAYLOAD_BYTES) {
    throw new TypeError(`event payload must be under ${MAX_PAYLOAD_BYTES} bytes; got ${payload.length}`);
  }
  return payload;
}

// A pool is the one Queryable whose writes are already committed when a helper runs.
function isPool(db: Queryable): boolean {
  return db instanceof pg.Pool;
}

/** Runs a notify helper under the failure policy of the module comment. */
async function guarded(db: Queryable, fn: () => Promise<void>): Promise<void> {
  if (!isPool(db)) return fn();
  try {
    await fn();
  } catch {
    // Committed already; the event is lost, the change is not.
  }
}

// Last progress event per resource key, for the throttle.
const lastProgress = new Map<string, number>();

/** True when a progress event of `key` may go now (and records it). */
function progressDue(key: string, now = Date.now()): boolean {
  const last = lastProgress.get(key);
  if (last !== undefined && now - last < PROGRESS_MIN_INTERVAL_MS) return false;
  if (lastProgress.size > 10_000) {
    // Forget resources that went quiet (finished without a status event seen here).
    for (const [k, t] of lastProgress) if (now - t > 60_000) lastProgress.delete(k);
  }
  lastProgress.set(key, now);
  return true;
}

const Count = z.coerce.number().int().nonnegative();

const DatasetEventRow = z.object({
  id: z.string(),
  status: z.enum(['pending', 'running', 'completed', 'failed']),
  error: z.string().nullable(),
  row_count: Count,
  rows_total: Count,
});

async function readDataset(db: Queryable, id: string) {
  const { rows } = await db.query(
    'SELECT id, status, error, row_count, rows_total FROM datasets WHERE id = $1',
    [id],
  );
  return rows.length === 0 ? null : DatasetEventRow.parse(rows[0]);
}

/**
 * Announces a dataset's status as stored now (`dataset.status`), or as `deleted` (call that one
 * before the row goes, in the deleting transaction).
 *
 * @param db - pool or transaction client
 * @param id - the dataset
 * @param deleted - announce its deletion
 */
export async function notifyDatasetStatus(db: Queryable, id: string, deleted = false): Promise<void> {
  await guarded(db, async () => {
    const d = await readDataset(db, id);
    if (!d) return;
    lastProgress.delete(`dataset:${id}`);
    await notifyEvent(db, {
      type: 'dataset.status',
      dataset_id: d.id,
      status: deleted ? 'deleted' : d.status,
      error: d.error,
      row_count: d.row_count,
      rows_total: d.rows_total,
    });
  });
}

/** Announces a generation's progress (`dataset.progress`), at most 4 times a second per dataset. */
export async function notifyDatasetProgress(db: Queryable, id: string): Promise<void> {
  if (!progressDue(`dataset:${id}`)) return;
  await guarded(db, async () => {
    const d = await readDataset(db, id);
    if (!d) return;
    await notifyEvent(db, {
      type: 'dataset.progress',
      dataset_id: d.id,
      row_count: d.row_count,
      rows_total: d.rows_total,
    });
  });
}

const ModelEventRow = z.object({
  id: z.string(),
  dataset_id: z.string().nullable(),
  status: z.enum(['pending', 'running', 'completed', 'failed']),
  error: z.string().nullable(),
  progress: z
    .object({
      phase: z.enum(['queued', 'moments', 'robust', 'limits', 'artifact', 'done']),
      pass: Count.catch(0),
      rows_done: Count.catch(0),
      rows_total: Count.catch(0),
    })
    .nullable()
    .catch(null),
});

async function readModel(db: Queryable, id: string) {
  const { rows } = await db.query(
    'SELECT id, dataset_id, status, error, progress FROM models WHERE id = $1',
    [id],
  );
  return rows.length === 0 ? null : ModelEventRow.parse(rows[0]);
}

/**
 * Announces a model's status as stored now (`model.status`), or as `deleted` (call that one
 * before the row goes, in the deleting transaction).
 */
export async function notifyModelStatus(db: Queryable, id: string, deleted = false): Promise<void> {
  await guarded(db, async () => {
    const m = await readModel(db, id);
    if (!m) return;
    lastProgress.delete(`model:${id}`);
    await notifyEvent(db, {
      type: 'model.status',
      model_id: m.id,
      dataset_id: m.dataset_id,
      status: deleted ? 'deleted' : m.status,
      error: m.error,
    });
  });
}

/** Announces a training's progress (`model.progress`), at most 4 times a second per model. */
export async function notifyModelProgress(db: Queryable, id: string): Promise<void> {
  if (!progressDue(`model:${id}`)) return;
  await guarded(db, async () => {
    const m = await readModel(db, id);
    if (!m?.progress) return;
    await notifyEvent(db, { type: 'model.progress', model_id: m.id, ...m.progress });
  });
}

const JobEventRow = z.object({
  id: z.string(),
  model_id: z.string(),
  dataset_id: z.string(),
  status: z.enum(['pending', 'running', 'completed', 'failed', 'cancelled']),
  phase: z.enum(['scoring', 'alerts', 'done']),
  error: z.string().nullable(),
  rows_done: Count,
  rows_total: Count,
});

async function readJob(db: Queryable, id: string) {
  const { rows } = await db.query(
    'SELECT id, model_id, dataset_id, status, phase, error, rows_done, rows_total FROM jobs WHERE id = $1',
    [id],
  );
  return rows.length === 0 ? null : JobEventRow.parse(rows[0]);
}

/** Announces a job's status and phase as stored now (`job.status`). */
export async function notifyJobStatus(db: Queryable, id: string): Promise<void> {
  await guarded(db, async () => {
    const j = await readJob(db, id);
    if (!j) return;
    lastProgress.delete(`job:${id}`);
    await notifyEvent(db, {
      type: 'job.status',
      job_id: j.id,
      model_id: j.model_id,
      dataset_id: j.dataset_id,
      status: j.status,
      phase: j.phase,
      error: j.error,
    });
  });
}

/** Announces a job's progress (`job.progress`), at most 4 times a second per job. */
export async function notifyJobProgress(db: Queryable, id: string): Promise<void> {
  if (!progressDue(`job:${id}`)) return;
  await guarded(db, async () => {
    const j = await readJob(db, id);
    if (!j) return;
    await notifyEvent(db, {
      type: 'job.progress',
      job_id: j.id,
      status: j.status,
      phase: j.phase,
      rows_done: j.rows_done,
      rows_total: j.rows_total,
    });
  });
}

/** One alert change to announce. */
export interface AlertChange {
  kind: 'opened' | 'closed';
  /** The stored row's id. */
  alertId: string;
  hostId: string;
  /** ms since the Unix epoch. */
  openedAt: number;
  closedAt: number | null;
  peakScore: number;
  topMetric: string | null;
  records: number;
}

/**
 * Announces alerts that opened or closed in one save: one event each, or one `alert.bulk` with
 * counts when there are more than {@link MAX_ALERT_EVENTS_PER_SAVE} (a job's replay).
 * Suppressed alerts must not be passed (they are not notified).
 */
export async function notifyAlertChanges(
  db: Queryable,
  target: { source: string; jobId?: string | null; modelId: string; datasetId?: string | null },
  changes: readonly AlertChange[],
): Promise<void> {
  if (changes.length === 0) return;
  const common = {
    source: target.source,
    job_id: target.jobId ?? null,
    model_id: target.modelId,
    dataset_id: target.datasetId ?? null,
  };
  await guarded(db, async () => {
    if (changes.length > MAX_ALERT_EVENTS_PER_SAVE) {
      await notifyEvent(db, {
        type: 'alert.bulk',
        ...common,
        opened: changes.filter((c) => c.kind === 'opened').length,
        closed: changes.filter((c) => c.kind === 'closed').length,
      });
      return;
    }
    const payloads = changes.map((c) => {
      const fields = {
        ...common,
        alert_id: c.alertId,
        host_id: c.hostId,
        opened_at: new Date(c.openedAt).toISOString(),
        peak_score: c.peakScore,
        top_metric: c.topMetric,
      };
      return encodeEvent(
        c.kind === 'opened'
          ? { type: 'alert.opened', ...fields }
          : {
              type: 'alert.closed',
              ...fields,
              closed_at: new Date(c.closedAt ?? c.openedAt).toISOString(),
              records: c.records,
            },
      );
    });
    // One round trip for all of them.
    await db.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS t(p, n) ORDER BY n', [
      EVENTS_CHANNEL,
      payloads,
    ]);
  });
}

/** Something events can be subscribed to. */
export interface EventFeed {
  /** Calls `fn` with every event from now on; returns the unsubscribe function. */
  subscribe(fn: (event: WsEvent) => void): () => void;
}

/** A running listener. */
export interface EventListener extends EventFeed {
  /** True while LISTEN is in place. */
  readonly connected: boolean;
  /** Resolves once the first LISTEN is in place (it keeps trying until then, or until closed). */
  readonly ready: Promise<void>;
  /** Stops listening and reconnecting. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link listenEvents}. */
export interface ListenOptions {
  /** Called for every event (besides subscribers). */
  onEvent?: (event: WsEvent) => void;
  /** Told about lost connections and malformed payloads (default: nothing). */
  onError?: (err: unknown) => void;
  /** Called after each successful (re)connection. */
  onConnect?: () => void;
  /** First reconnection delay in ms (default 250); it doubles up to `maxDelayMs`. */
  minDelayMs?: number;
  /** Longest reconnection delay in ms (default 5000). */
  maxDelayMs?: number;
}

/**
 * Listens on {@link EVENTS_CHANNEL} on a dedicated connection (not one of the pool's), and
 * reconnects by itself, with backoff, whenever that connection is lost: a database that goes
 * down and comes back resumes the live feed without anyone's help. Events notified while the
 * connection was down are not replayed.
 *
 * @param source - a `postgres://` URL, or a pool whose connection settings are reused
 * @param options - callbacks and backoff
 * @example
 * const listener = listenEvents(pool, { onEvent: (e) => console.log(e.type) });
 * await listener.ready;
 * await listener.close();
 */
export function listenEvents(source: string | Pool, options: ListenOptions = {}): EventListener {
  const minDelay = options.minDelayMs ?? 250;
  const maxDelay = options.maxDelayMs ?? 5000;
  const subscribers = new Set<(event: WsEvent) => void>();
  if (options.onEvent) subscribers.add(options.onEvent);
  const clientConfig: pg.ClientConfig =
    typeof source === 'string'
      ? { connectionString: source }
      : { ...(source.options as pg.ClientConfig), application_name: 'tads-events' };

  let client: pg.Client | undefined;
  let connected = false;
  let closed = false;
  let delay = minDelay;
  let timer: NodeJS.Timeout | undefined;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const deliver = (payload: string | undefined) => {
    let event: WsEvent;
    try {
      const parsed = WsEventSchema.safeParse(JSON.parse(payload ?? ''));
      if (!parsed.success) throw new TypeError(`event breaks the contract: ${parsed.error.message}`);
      event = parsed.data;
    } catch (err) {
      options.onError?.(err);
      return;
    }
    for (const fn of subscribers) {
      try {
        fn(event);
      } catch (err) {
        options.onError?.(err);
      }
    }
  };

  const schedule = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
    delay = Math.min(delay * 2, maxDelay);
  };

  const drop = (c: pg.Client, err?: unknown) => {
    if (client !== c) return;
    client = undefined;
    connected = false;
    if (err !== undefined) options.onError?.(err);
    c.removeAllListeners('notification');
    void c.end().catch(() => {});
    schedule();
  };

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ ...clientConfig, keepAlive: true });
    client = c;
    c.on('error', (err) => drop(c, err));
    c.on('end', () => drop(c));
    c.on('notification', (msg) => {
      if (msg.channel === EVENTS_CHANNEL) deliver(msg.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch (err) {
      drop(c, err);
      return;
    }
    if (client !== c) return;
    if (closed) {
      void c.end().catch(() => {});
      return;
    }
    connected = true;
    delay = minDelay;
    markReady();
    options.onConnect?.();
  };

  void connect();
  return {
    get connected() {
      return connected;
    },
    ready,
    subscribe(fn) {
      subscribers.add(fn);
      return () => {
        subscribers.delete(fn);
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      connected = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      markReady();
      const c = client;
      client = undefined;
      if (c) await c.end().catch(() => {});
    },
  };
}
