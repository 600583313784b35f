import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/client/index.js';
import { saveAlertEvents } from '../../src/db/alerts.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
const modelId = randomUUID();
const T0 = Date.parse('2024-01-01T00:00:00Z');

beforeAll(async () => {
  srv = await startTestServer();
  // A model row for the alerts' foreign key (status is irrelevant to listing).
  await srv.pool.query(
    `INSERT INTO models (id, name, status, params) VALUES ($1, 'fixture', 'completed', '{}')`,
    [modelId],
  );
  const alert = (id: number, hostId: string, openedMin: number, closed: boolean, suppressed = false) => ({
    id,
    hostId,
    openedAt: T0 + openedMin * 60_000,
    closedAt: closed ? T0 + (openedMin + 10) * 60_000 : null,
    peakScore: 1 + id / 10,
    topMetric: 2,
    records: closed ? 6 : 1,
    suppressed,
  });
  await saveAlertEvents(srv.pool, {
    source: 'live',
    modelId,
    alerts: [alert(1, 'host-a', 0, true), alert(2, 'host-b', 1, false), alert(3, 'host-a', 30, false, true)],
  });
});

afterAll(async () => {
  await srv?.close();
});

describe('GET /alerts', () => {
  it('answers 400 naming the filter for bad input', async () => {
    const cases: [Record<string, string | number>, string][] = [
      [{ state: 'ringing' }, 'state must be one of open, closed; got "ringing"'],
      [{ model_id: 'm1' }, 'model_id must be a UUID; got "m1"'],
      [{ limit: 501 }, 'limit must be an integer in [1, 500]; got "501"'],
      [{ suppressed: 'maybe' }, 'suppressed must be true or false; got "maybe"'],
      [{ colour: 'red' }, 'unknown query parameter colour'],
    ];
    for (const [query, message] of cases) {
      const err = await srv.client.listAlerts(query as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(400);
      expect((err as ApiError).message).toBe(message);
    }
  });

  it('lists newest first with every field on the wire', async () => {
    const page = await srv.client.listAlerts();
    expect(page.items.map((a) => a.host_id)).toEqual(['host-a', 'host-b', 'host-a']);
    expect(page.items[2]).toMatchObject({
      source: 'live',
      model_id: modelId,
      dataset_id: null,
      job_id: null,
      state: 'closed',
      suppressed: false,
      opened_at: '2024-01-01T00:00:00.000Z',
      closed_at: '2024-01-01T00:10:00.000Z',
      peak_score: 1.1,
      top_metric: 'disk_io',
      records: 6,
    });
  });

  it('filters by host, model, source, state and suppression, and pages', async () => {
    const hosts = (q: Parameters<TestServer['client']['listAlerts']>[0]) =>
      srv.client.listAlerts(q).then((p) => p.items.map((a) => `${a.host_id}@${a.opened_at.slice(11, 16)}`));
    expect(await hosts({ host_id: 'host-a' })).toEqual(['host-a@00:30', 'host-a@00:00']);
    expect(await hosts({ host: 'host-b' })).toEqual(['host-b@00:01']);
    expect(await hosts({ state: 'open' })).toEqual(['host-a@00:30', 'host-b@00:01']);
    expect(await hosts({ suppressed: true })).toEqual(['host-a@00:30']);
    expect(await hosts({ source: 'live', model_id: modelId, state: 'closed' })).toEqual(['host-a@00:00']);
    expect(await hosts({ model_id: randomUUID() })).toEqual([]);
    expect(await hosts({ dataset_id: randomUUID() })).toEqual([]);
    const first = await srv.client.listAlerts({ limit: 2 });
    expect(first.items).toHaveLength(2);
    const second = await srv.client.listAlerts({ limit: 2, cursor: first.next_cursor! });
    expect(second.items.map((a) => a.opened_at)).toEqual(['2024-01-01T00:00:00.000Z']);
    expect(second.next_cursor).toBeNull();
  });
});
