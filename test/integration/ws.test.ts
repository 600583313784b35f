/**
 * WebSocket `/ws` against a real server, PostgreSQL and generator: bad client messages and
 * foreign origins first, then hello and subscriptions, the live events of a whole
 * dataset → model → scoring job → alerts run, events notified by another process (another pool),
 * and the backpressure policy (progress dropped for a slow client, the connection closed rather
 * than a status event dropped).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveHubOf, MAX_BACKPRESSURE_BYTES, PROGRESS_DROP_BYTES, shouldSend } from '../../src/api/ws.js';
import {
  WS_TOPICS,
  WsClientMessageSchema,
  WsServerMessageSchema,
  type WsEvent,
  type WsServerMessage,
} from '../../src/contract/ws.js';
import { notifyEvent } from '../../src/db/events.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { openWebSocket, UpgradeRefused, type TestSocket } from './ws-client.js';

let srv: TestServer;
let wsUrl: string;
const sockets: TestSocket[] = [];

async function open(headers: Record<string, string> = {}): Promise<TestSocket> {
  const s = await openWebSocket(wsUrl, headers);
  sockets.push(s);
  await s.next((m) => (m as WsServerMessage).type === 'hello');
  return s;
}

const ofType =
  <T extends WsServerMessage['type']>(
    type: T,
    pred: (m: Extract<WsServerMessage, { type: T }>) => boolean = () => true,
  ) =>
  (m: unknown) =>
    (m as WsServerMessage).type === type && pred(m as Extract<WsServerMessage, { type: T }>);

beforeAll(async () => {
  srv = await startTestServer();
  wsUrl = `${srv.apiUrl}/ws`;
  await srv.system.events.ready;
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await srv?.close();
});

describe('the WebSocket contract', () => {
  it('refuses client messages that are not subscribe/unsubscribe with known topics', () => {
    expect(WsClientMessageSchema.safeParse({ type: 'publish', topics: [] }).success).toBe(false);
    expect(WsClientMessageSchema.safeParse({ type: 'subscribe', topics: ['secrets'] }).success).toBe(false);
    expect(WsClientMessageSchema.safeParse({ type: 'subscribe', topics: 'jobs' }).success).toBe(false);
    expect(WsClientMessageSchema.safeParse({ type: 'subscribe', topics: ['jobs'], x: 1 }).success).toBe(
      false,
    );
    expect(WsClientMessageSchema.safeParse({ type: 'subscribe', topics: ['jobs', 'alerts'] }).success).toBe(
      true,
    );
  });

  it('drops only progress events for a backed-up client', () => {
    expect(shouldSend({ type: 'job.progress' }, PROGRESS_DROP_BYTES)).toBe(false);
    expect(shouldSend({ type: 'job.progress' }, PROGRESS_DROP_BYTES - 1)).toBe(true);
    expect(shouldSend({ type: 'alert.opened' }, MAX_BACKPRESSURE_BYTES)).toBe(true);
    expect(shouldSend({ type: 'dataset.status' }, MAX_BACKPRESSURE_BYTES)).toBe(true);
  });

  it('refuses to notify an event that breaks the contract', async () => {
    await expect(
      notifyEvent(srv.pool, { type: 'job.progress', job_id: 'not-a-uuid' } as unknown as WsEvent),
    ).rejects.toThrow(TypeError);
  });
});

describe('/ws connections', () => {
  it('refuses the upgrade for a page of another origin', async () => {
    const err = await openWebSocket(wsUrl, { origin: 'http://evil.example' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpgradeRefused);
    expect((err as UpgradeRefused).status).toBe(403);
    expect(JSON.parse((err as UpgradeRefused).body)).toMatchObject({ error: { code: 'forbidden' } });
  });

  it('accepts its own origin and says hello with every topic', async () => {
    const s = await open({ origin: srv.apiUrl });
    const hello = WsServerMessageSchema.parse(s.messages[0]);
    expect(hello).toMatchObject({ type: 'hello', topics: [...WS_TOPICS] });
  });

  it('answers bad messages with an error and keeps the connection', async () => {
    const s = await open();
    s.send('{not json');
    const e1 = await s.next(ofType('error'));
    expect((e1 as { error: { message: string } }).error.message).toMatch(/valid JSON/);
    s.send(JSON.stringify({ type: 'subscribe', topics: ['nope'] }));
    await s.next(ofType('error', (m) => /topics must hold only/.test(m.error.message)));
    s.send(JSON.stringify({ type: 'subscribe', topics: ['alerts', 'jobs'] }));
    const sub = await s.next(ofType('subscribed'));
    expect(sub).toEqual({ type: 'subscribed', topics: ['jobs', 'alerts'] });
    s.send(JSON.stringify({ type: 'unsubscribe', topics: ['alerts'] }));
    await s.next(ofType('subscribed', (m) => m.topics.length === 1 && m.topics[0] === 'jobs'));
  });

  it('delivers events notified by another process, on their topic only', async () => {
    const all = await open();
    const alertsOnly = await open();
    alertsOnly.send(JSON.stringify({ type: 'subscribe', topics: ['alerts'] }));
    await alertsOnly.next(ofType('subscribed'));
    const datasetId = crypto.randomUUID();
    // The test's own pool stands for another process: NOTIFY travels through the database.
    await notifyEvent(srv.pool, {
      type: 'dataset.progress',
      dataset_id: datasetId,
      row_count: 1,
      rows_total: 2,
    });
    await notifyEvent(srv.pool, {
      type: 'alert.bulk',
      source: 'live',
      job_id: null,
      model_id: null,
      dataset_id: null,
      opened: 3,
      closed: 1,
    });
    await all.next(ofType('dataset.progress', (m) => m.dataset_id === datasetId));
    await all.next(ofType('alert.bulk', (m) => m.opened === 3));
    // Per-connection order is kept, so once the later alert arrived the earlier event would have too.
    await alertsOnly.next(ofType('alert.bulk', (m) => m.opened === 3));
    expect(alertsOnly.messages.some((m) => (m as WsServerMessage).type === 'dataset.progress')).toBe(false);
  });
});

describe('live events of a whole run', () => {
  it('reports dataset, model and job status, job progress and alerts as they happen', async () => {
    const s = await open();
    const jobsOnly = await open();
    jobsOnly.send(JSON.stringify({ type: 'subscribe', topics: ['jobs'] }));
    await jobsOnly.next(ofType('subscribed'));

    // A normal-only dataset to train on.
    const train = await srv.client.createDataset({
      host_count: 4,
      duration_s: 4 * 3600,
      anomaly_rate: 0,
      seed: 3,
    });
    await s.next(
      ofType('dataset.status', (m) => m.dataset_id === train.id && m.status === 'completed'),
      60_000,
    );
    const statuses = s.messages
      .filter(ofType('dataset.status', (m) => m.dataset_id === train.id))
      .map((m) => (m as { status: string }).status);
    expect(statuses).toEqual(['pending', 'running', 'completed']);

    // A model.
    const accepted = await srv.client.train({ dataset_id: train.id });
    const trained = await s.next(
      ofType(
        'model.status',
        (m) => m.model_id === accepted.id && (m.status === 'completed' || m.status === 'failed'),
      ),
      60_000,
    );
    expect(trained).toMatchObject({ status: 'completed', dataset_id: train.id, error: null });

    // A dataset with anomalies, scored by a job in small chunks.
    const evalDs = await srv.client.createDataset({
      host_count: 6,
      duration_s: 6 * 3600,
      anomaly_rate: 0.05,
      seed: 9,
    });
    await s.next(
      ofType('dataset.status', (m) => m.dataset_id === evalDs.id && m.status === 'completed'),
      60_000,
    );
    const job = await srv.client.scoreDataset({
      model_id: accepted.id,
      dataset_id: evalDs.id,
      chunk_rows: 500,
    });
    const done = await s.next(
      ofType('job.status', (m) => m.job_id === job.id && m.status === 'completed'),
      60_000,
    );
    expect(done).toMatchObject({ model_id: accepted.id, dataset_id: evalDs.id, phase: 'done', error: null });
    const progress = s.messages.filter(ofType('job.progress', (m) => m.job_id === job.id));
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) expect((p as { rows_total: number }).rows_total).toBe(6 * 360);

    // The job's alerts: one event each (or one bulk event), matching GET /alerts.
    const stored = await srv.client.listAlerts({ source: job.id, suppressed: false, limit: 500 });
    expect(stored.items.length).toBeGreaterThan(0);
    const opened = s.messages.filter(ofType('alert.opened', (m) => m.job_id === job.id));
    const bulk = s.messages.filter(ofType('alert.bulk', (m) => m.job_id === job.id));
    if (bulk.length === 0) {
      expect(opened.map((m) => (m as { alert_id: string }).alert_id).sort()).toEqual(
        stored.items.map((a) => a.id).sort(),
      );
    } else {
      expect(bulk).toEqual([expect.objectContaining({ opened: stored.items.length })]);
    }

    // The jobs-only connection saw the job and nothing of datasets, models or alerts.
    await jobsOnly.next(ofType('job.status', (m) => m.job_id === job.id && m.status === 'completed'));
    const kinds = new Set(jobsOnly.messages.map((m) => (m as WsServerMessage).type));
    for (const k of kinds) expect(['hello', 'subscribed', 'job.status', 'job.progress']).toContain(k);

    // Deleting the dataset announces it.
    await srv.client.deleteDataset(train.id);
    await s.next(ofType('dataset.status', (m) => m.dataset_id === train.id && m.status === 'deleted'));
  });
});

describe('backpressure', () => {
  const progress = (i: number): WsEvent => ({
    type: 'job.progress',
    job_id: '00000000-0000-4000-8000-000000000001',
    status: 'running',
    phase: 'scoring',
    rows_done: i,
    rows_total: 1_000_000,
  });
  const status = (i: number): WsEvent => ({
    type: 'dataset.status',
    dataset_id: '00000000-0000-4000-8000-000000000002',
    status: 'running',
    error: 'x'.repeat(200),
    row_count: i,
    rows_total: 1_000_000,
  });

  it('drops progress events for a client that does not read, and keeps it connected', async () => {
    const hub = liveHubOf(srv.system.api.router)!;
    const slow = await open();
    slow.pause();
    const before = hub.stats().droppedProgress;
    const n = 200_000;
    for (let i = 0; i < n; i++) hub.publish(progress(i));
    expect(hub.stats().droppedProgress).toBeGreaterThan(before);
    slow.resume();
    hub.publish(status(0));
    await slow.next(ofType('dataset.status'));
    const received = slow.messages.filter(ofType('job.progress')).length;
    expect(received).toBeLessThan(n);
  });

  it('closes a client too slow even for status events instead of dropping them', async () => {
    const hub = liveHubOf(srv.system.api.router)!;
    const slow = await open();
    slow.pause();
    // Far more than the kernel's socket buffers and the server's limit hold.
    for (let i = 0; i < 200_000; i++) hub.publish(status(i));
    slow.resume();
    await slow.closed;
    const got = slow.messages.filter(ofType('dataset.status')).length;
    expect(got).toBeLessThan(200_000);
    // What arrived is a gapless prefix: nothing in between was dropped.
    const counts = slow.messages
      .filter(ofType('dataset.status'))
      .map((m) => (m as { row_count: number }).row_count);
    expect(counts).toEqual(counts.map((_, i) => i));
  });
});
