/**
 * Wire contract of the WebSocket `/ws`: live events of jobs, datasets, models and alerts.
 *
 * On connecting, a client is subscribed to every topic and receives `hello`. It may narrow or
 * widen what it receives with `{ "type": "subscribe", "topics": [...] }` (replaces the set) and
 * `{ "type": "unsubscribe", "topics": [...] }`, each a JSON text frame; the server answers each
 * with `subscribed` and the resulting set, or with `error` for a message it cannot accept (a
 * binary frame among them; the connection stays open).
 *
 * Events carry ids and counters, never data: fetch the resource over HTTP for the rest. Each
 * event belongs to one topic ({@link topicOfEvent}). Progress events (`*.progress`) are
 * throttled at the source and dropped for a client whose connection is backed up; status and
 * alert events are never dropped (a client too slow even for those is disconnected, and
 * reconnects to a fresh `hello`).
 */
import { z } from 'zod';
import { showValue } from './common.js';

/** Topics a client may subscribe to. */
export const WS_TOPICS = ['jobs', 'datasets', 'models', 'alerts'] as const;
export type WsTopic = (typeof WS_TOPICS)[number];

const Ts = z.iso.datetime();
const JobStatus = z.enum(['pending', 'running', 'completed', 'failed', 'cancelled']);
const JobPhase = z.enum(['scoring', 'alerts', 'done']);
const LifecycleStatus = z.enum(['pending', 'running', 'completed', 'failed']);
const TrainingPhase = z.enum(['queued', 'moments', 'robust', 'limits', 'artifact', 'done']);
const Count = z.number().int().nonnegative();

/** A scoring job changed status or phase (topic `jobs`). */
export const WsJobStatusSchema = z.object({
  type: z.literal('job.status'),
  job_id: z.uuid(),
  model_id: z.uuid(),
  dataset_id: z.uuid(),
  status: JobStatus,
  phase: JobPhase,
  /** Why it failed, else null. */
  error: z.string().nullable(),
});

/** A scoring job advanced (topic `jobs`; at most a few per second per job; droppable). */
export const WsJobProgressSchema = z.object({
  type: z.literal('job.progress'),
  job_id: z.uuid(),
  status: JobStatus,
  phase: JobPhase,
  rows_done: Count,
  rows_total: Count,
});

/** A dataset changed status (topic `datasets`). */
export const WsDatasetStatusSchema = z.object({
  type: z.literal('dataset.status'),
  dataset_id: z.uuid(),
  /** `deleted` once the dataset is gone. */
  status: z.enum([...LifecycleStatus.options, 'deleted']),
  error: z.string().nullable(),
  row_count: Count,
  rows_total: Count,
});

/** A dataset's generation advanced (topic `datasets`; throttled; droppable). */
export const WsDatasetProgressSchema = z.object({
  type: z.literal('dataset.progress'),
  dataset_id: z.uuid(),
  row_count: Count,
  rows_total: Count,
});

/** A model changed status (topic `models`). */
export const WsModelStatusSchema = z.object({
  type: z.literal('model.status'),
  model_id: z.uuid(),
  /** The dataset trained on, null once deleted. */
  dataset_id: z.uuid().nullable(),
  /** `deleted` once the model is gone. */
  status: z.enum([...LifecycleStatus.options, 'deleted']),
  error: z.string().nullable(),
});

/** A training advanced (topic `models`; throttled; droppable). */
export const WsModelProgressSchema = z.object({
  type: z.literal('model.progress'),
  model_id: z.uuid(),
  phase: TrainingPhase,
  pass: Count,
  rows_done: Count,
  rows_total: Count,
});

const alertFields = {
  /** The alert's id (as in `GET /alerts`). */
  alert_id: z.string(),
  /** `live`, or the id of the job that raised it. */
  source: z.string(),
  job_id: z.uuid().nullable(),
  model_id: z.uuid().nullable(),
  dataset_id: z.uuid().nullable(),
  host_id: z.string(),
  /** Telemetry time of the opening record. */
  opened_at: Ts,
  peak_score: z.number(),
  top_metric: z.string().nullable(),
};

/** An alert opened (topic `alerts`). Suppressed alerts (over the storm cap) are not sent. */
export const WsAlertOpenedSchema = z.object({ type: z.literal('alert.opened'), ...alertFields });

/** An alert closed (topic `alerts`). */
export const WsAlertClosedSchema = z.object({
  type: z.literal('alert.closed'),
  ...alertFields,
  /** Telemetry time of the closing record. */
  closed_at: Ts,
  records: Count,
});

/**
 * Many alerts were written at once (a dataset job's alert replay): counts instead of one event
 * per alert (topic `alerts`); list them with `GET /alerts?source=<job id>`.
 */
export const WsAlertBulkSchema = z.object({
  type: z.literal('alert.bulk'),
  source: z.string(),
  job_id: z.uuid().nullable(),
  model_id: z.uuid().nullable(),
  dataset_id: z.uuid().nullable(),
  /** Alerts that opened (not suppressed). */
  opened: Count,
  /** Of those and earlier ones, alerts that closed. */
  closed: Count,
});

/** Every event the server publishes (also the payload travelling between processes). */
export const WsEventSchema = z.discriminatedUnion('type', [
  WsJobStatusSchema,
  WsJobProgressSchema,
  WsDatasetStatusSchema,
  WsDatasetProgressSchema,
  WsModelStatusSchema,
  WsModelProgressSchema,
  WsAlertOpenedSchema,
  WsAlertClosedSchema,
  WsAlertBulkSchema,
]);
export type WsEvent = z.infer<typeof WsEventSchema>;
export type WsEventType = WsEvent['type'];

/** Topic of each event type. */
export const WS_EVENT_TOPIC: Readonly<Record<WsEventType, WsTopic>> = {
  'job.status': 'jobs',
  'job.progress': 'jobs',
  'dataset.status': 'datasets',
  'dataset.progress': 'datasets',
  'model.status': 'models',
  'model.progress': 'models',
  'alert.opened': 'alerts',
  'alert.closed': 'alerts',
  'alert.bulk': 'alerts',
};

/** The topic an event is published on. */
export function topicOfEvent(event: Pick<WsEvent, 'type'>): WsTopic {
  return WS_EVENT_TOPIC[event.type];
}

/** True for events that may be dropped for a slow client (progress counters). */
export function isDroppableEvent(event: Pick<WsEvent, 'type'>): boolean {
  return event.type.endsWith('.progress');
}

/** First message on every connection. */
export const WsHelloSchema = z.object({
  type: z.literal('hello'),
  /** The server's package version. */
  version: z.string(),
  /** Topics this connection is subscribed to (all of them at first). */
  topics: z.array(z.enum(WS_TOPICS)),
  server_time: Ts,
});

/** Answer to `subscribe` / `unsubscribe`: the connection's topics now. */
export const WsSubscribedSchema = z.object({
  type: z.literal('subscribed'),
  topics: z.array(z.enum(WS_TOPICS)),
});

/** A client message the server could not accept (the connection stays open). */
export const WsErrorSchema = z.object({
  type: z.literal('error'),
  error: z.object({
    code: z.literal('invalid_input'),
    message: z.string(),
    details: z.unknown(),
  }),
});

/** Every message the server sends. */
export const WsServerMessageSchema = z.discriminatedUnion('type', [
  WsHelloSchema,
  WsSubscribedSchema,
  WsErrorSchema,
  ...WsEventSchema.options,
]);
export type WsServerMessage = z.infer<typeof WsServerMessageSchema>;

const topicsField = z
  .array(
    z.enum(WS_TOPICS, {
      error: (iss) => `topics must hold only ${WS_TOPICS.join(', ')}; got ${showValue(iss.input)}`,
    }),
    { error: (iss) => `topics must be an array of topic names; got ${showValue(iss.input)}` },
  )
  .max(WS_TOPICS.length * 4, { error: 'topics must hold at most 16 names' });

/** `{ "type": "subscribe", "topics": [...] }`: receive exactly these topics from now on. */
export const WsSubscribeSchema = z.strictObject({ type: z.literal('subscribe'), topics: topicsField });

/** `{ "type": "unsubscribe", "topics": [...] }`: stop receiving these topics. */
export const WsUnsubscribeSchema = z.strictObject({ type: z.literal('unsubscribe'), topics: topicsField });

/** Every message a client may send. */
export const WsClientMessageSchema = z.discriminatedUnion('type', [WsSubscribeSchema, WsUnsubscribeSchema], {
  error: (iss) =>
    `message must be {"type": "subscribe" | "unsubscribe", "topics": [...]}; got ${showValue(iss.input)}`,
});
export type WsClientMessage = z.infer<typeof WsClientMessageSchema>;

/** Largest client message accepted, in bytes (larger: the connection is closed). */
export const WS_MAX_CLIENT_MESSAGE = 4096;
