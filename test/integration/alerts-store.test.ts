import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AlertManager,
  type AlertEvent,
  type AlertManagerState,
  type AlertRecord,
} from '../../src/core/alerts.js';
import { ValidationError } from '../../src/core/errors.js';
import { METRICS } from '../../src/core/types.js';
import {
  deleteAlertsForSource,
  listAlerts,
  listSuppressedCounts,
  saveAlertEvents,
  saveSuppressedCounts,
  type StoredAlert,
} from '../../src/db/alerts.js';
import { withTransaction, type Pool } from '../../src/db/pool.js';
import { createMigratedDatabase, GENERATOR_SET_SQL } from '../helpers/db.js';

let pool: Pool;
const modelId = randomUUID();
const datasetId = randomUUID();
const jobId = randomUUID();

beforeAll(async () => {
  ({ pool } = await createMigratedDatabase());
  // The rows alerts refer to.
  await pool.query(`INSERT INTO models (id, name, status, params) VALUES ($1, 'm', 'completed', '{}')`, [
    modelId,
  ]);
  await pool.query(
    `INSERT INTO datasets (id, name, status, params, rows_total, host_count, ${GENERATOR_SET_SQL.columns})
     VALUES ($1, 'd', 'completed', '{}', 0, 0, ${GENERATOR_SET_SQL.values})`,
    [datasetId],
  );
  await pool.query(
    `INSERT INTO jobs (id, kind, model_id, dataset_id, status, rows_total)
     VALUES ($1, 'score_dataset', $2, $3, 'running', 0)`,
    [jobId, modelId, datasetId],
  );
});
afterAll(async () => {
  await pool.end();
});

const T0 = Date.UTC(2024, 2, 1);

/** A fleet's scored records in (ts, host_id) order: bursts of anomalies on a 30 s grid. */
function rows(hosts: number, steps: number, seed: number) {
  let a = seed;
  const r = () => (a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const left = new Array<number>(hosts).fill(0);
  const out: { ts: number; hostId: string; fused: number; topMetric: number }[] = [];
  for (let s = 0; s < steps; s++) {
    for (let h = 0; h < hosts; h++) {
      if (left[h] === 0 && r() < 0.03) left[h] = 3 + Math.floor(r() * 12);
      const hot = left[h]! > 0;
      if (hot) left[h]! -= 1;
      out.push({
        ts: T0 + s * 30_000,
        hostId: `host-${String(h).padStart(2, '0')}`,
        fused: hot ? 1 + r() * 4 : r() * 0.7,
        topMetric: Math.floor(r() * 9) - 1,
      });
    }
  }
  return out;
}

/** Every alert's final state, by local id, from a list of events. */
function finalStates(events: AlertEvent[]): AlertRecord[] {
  const m = new Map<number, AlertRecord>();
  for (const e of events) m.set(e.alert.id, e.alert);
  return [...m.values()].sort((a, b) => a.id - b.id);
}

async function allAlerts(filter: { source?: string } = {}): Promise<StoredAlert[]> {
  const out: StoredAlert[] = [];
  let cursor: string | null = null;
  do {
    const page = await listAlerts(pool, { limit: 7, cursor, ...filter });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return out;
}

function asStored(a: AlertRecord) {
  return {
    hostId: a.hostId,
    state: a.closedAt === null ? 'open' : 'closed',
    suppressed: a.suppressed,
    openedAt: new Date(a.openedAt),
    closedAt: a.closedAt === null ? null : new Date(a.closedAt),
    peakScore: a.peakScore,
    topMetric: a.topMetric === -1 ? null : METRICS[a.topMetric],
    records: a.records,
  };
}

const byKey = (x: { hostId: string; openedAt: Date }, y: { hostId: string; openedAt: Date }) =>
  x.openedAt.getTime() - y.openedAt.getTime() || x.hostId.localeCompare(y.hostId);

describe('alert store input checks', () => {
  it('rejects a malformed target or top metric, naming it', async () => {
    await expect(saveAlertEvents(pool, { source: 'live', modelId: 'nope' }, [])).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'modelId must be a uuid; got "nope"',
    });
    await expect(saveAlertEvents(pool, { source: '', modelId }, [])).rejects.toThrow(
      /source must be a non-empty string/,
    );
    const alert: AlertRecord = {
      id: 1,
      hostId: 'h',
      openedAt: T0,
      closedAt: null,
      peakScore: 2,
      topMetric: 3,
      records: 1,
      suppressed: false,
    };
    await expect(
      saveAlertEvents(pool, { source: 'live', modelId, alerts: [alert], metrics: ['a', 'b'] }),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'alerts[0].topMetric must be -1 or an index below 2; got 3',
    });
    await expect(saveSuppressedCounts(pool, 'live', null, new Map([[T0 + 1, 1]]))).rejects.toThrow(
      /counts key must be a whole minute in ms since the Unix epoch; got/,
    );
    await expect(listAlerts(pool, { limit: 0 })).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'limit must be an integer in [1, 1000]; got 0',
    });
    await expect(listAlerts(pool, { limit: 5, cursor: 'garbage' })).rejects.toThrow(ValidationError);
    await expect(listAlerts(pool, { limit: 5, modelId: 'x' })).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'modelId must be a uuid; got "x"',
    });
  });
});

describe('live alerts', () => {
  const source = 'live';
  const data = rows(12, 300, 11);

  it('follow the manager across batches and a restart from a snapshot', async () => {
    // Shard of a live scorer: batches of 100 records, events saved after each; restart midway.
    const options = { intervalS: 30, maxAlertsPerMinute: 2 };
    let m = new AlertManager(options);
    const events: AlertEvent[] = [];
    const ids = new Map<number, string>();
    for (let i = 0; i < data.length; i += 100) {
      if (i === 1800)
        m = AlertManager.restore(JSON.parse(JSON.stringify(m.snapshot())) as AlertManagerState, options);
      for (const rec of data.slice(i, i + 100)) m.process(rec);
      const batch = m.drainEvents();
      events.push(...batch);
      const saved = await saveAlertEvents(pool, { source, modelId }, batch);
      for (const [local, id] of saved) {
        // A local alert keeps its row across saves (updated, not inserted again).
        if (ids.has(local)) expect(id).toBe(ids.get(local));
        ids.set(local, id);
      }
      await saveSuppressedCounts(pool, source, null, m.drainSuppressedCounts());
    }
    const expected = finalStates(events);
    expect(expected.some((a) => a.closedAt === null)).toBe(true);
    expect(expected.some((a) => a.suppressed)).toBe(true);
    const stored = await allAlerts({ source });
    expect(stored.map(pick).sort(byKey)).toEqual(expected.map(asStored).sort(byKey));
    expect(new Set(stored.map((s) => s.id))).toEqual(new Set(ids.values()));
    expect(stored.every((s) => s.modelId === modelId && s.jobId === null && s.datasetId === null)).toBe(true);
    expect(await listSuppressedCounts(pool, source)).toEqual(m.suppressedCounts());
  });

  it('add the suppressed counts of several shards', async () => {
    const minute = T0 + 1000 * 60_000;
    await saveSuppressedCounts(pool, { source: 'live', counts: new Map([[minute, 2]]) });
    await saveSuppressedCounts(pool, { source: 'live', jobId: null, counts: new Map([[minute, 3]]) });
    expect((await listSuppressedCounts(pool, 'live')).get(minute)).toBe(5);
  });
});

/** The stored fields compared with an AlertRecord. */
function pick(s: StoredAlert) {
  return {
    hostId: s.hostId,
    state: s.state,
    suppressed: s.suppressed,
    openedAt: s.openedAt,
    closedAt: s.closedAt,
    peakScore: s.peakScore,
    topMetric: s.topMetric,
    records: s.records,
  };
}

describe('job alert replay', () => {
  const source = jobId;
  const data = rows(8, 400, 5);

  async function replay(): Promise<{ records: AlertRecord[]; counts: Map<number, number> }> {
    const m = new AlertManager({ intervalS: 30, maxAlertsPerMinute: 1 });
    for (const rec of data) m.process(rec);
    const records = finalStates(m.drainEvents());
    const counts = m.suppressedCounts();
    await withTransaction(pool, async (client) => {
      await deleteAlertsForSource(client, source);
      await saveAlertEvents(client, { source, jobId, modelId, datasetId, alerts: records });
      await saveSuppressedCounts(client, { source, jobId, counts });
    });
    return { records, counts };
  }

  it('is idempotent: a second replay leaves the same alerts and counts', async () => {
    const first = await replay();
    const once = (await allAlerts({ source })).map(pick);
    await replay();
    const twice = (await allAlerts({ source })).map(pick);
    expect(twice).toEqual(once);
    expect(once.sort(byKey)).toEqual(first.records.map(asStored).sort(byKey));
    expect(await listSuppressedCounts(pool, source)).toEqual(first.counts);
    expect(first.counts.size).toBeGreaterThan(0);
    const page = await listAlerts(pool, { limit: 1, source });
    expect(page.items[0]).toMatchObject({ jobId, datasetId, modelId, source });
  });

  it('deletes a source and nothing else', async () => {
    const liveBefore = (await allAlerts({ source: 'live' })).length;
    const deleted = await deleteAlertsForSource(pool, source);
    expect(deleted.alerts).toBeGreaterThan(0);
    expect(deleted.minutes).toBeGreaterThan(0);
    expect(await allAlerts({ source })).toEqual([]);
    expect(await deleteAlertsForSource(pool, source)).toEqual({ alerts: 0, minutes: 0 });
    expect((await allAlerts({ source: 'live' })).length).toBe(liveBefore);
  });
});

describe('listAlerts', () => {
  it('pages newest first without gaps or repeats, and filters', async () => {
    const all = await allAlerts();
    expect(all.length).toBeGreaterThan(20);
    for (let i = 1; i < all.length; i++) {
      const [a, b] = [all[i - 1]!, all[i]!];
      const order = b.openedAt.getTime() - a.openedAt.getTime() || Number(b.id) - Number(a.id);
      expect(order).toBeLessThan(0);
    }
    expect(new Set(all.map((a) => a.id)).size).toBe(all.length);

    const host = all[0]!.hostId;
    const ofHost = await listAlerts(pool, { limit: 1000, host });
    expect(ofHost.items.map((a) => a.id)).toEqual(all.filter((a) => a.hostId === host).map((a) => a.id));
    const open = await listAlerts(pool, { limit: 1000, state: 'open' });
    expect(open.items.map((a) => a.id)).toEqual(all.filter((a) => a.state === 'open').map((a) => a.id));
    const quiet = await listAlerts(pool, { limit: 1000, suppressed: true, source: 'live' });
    expect(quiet.items.length).toBeGreaterThan(0);
    expect(quiet.items.every((a) => a.suppressed && a.source === 'live')).toBe(true);
    expect((await listAlerts(pool, { limit: 1000, modelId })).items.length).toBe(all.length);
    expect((await listAlerts(pool, { limit: 10, modelId: randomUUID() })).items).toEqual([]);
  });
});
