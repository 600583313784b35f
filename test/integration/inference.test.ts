import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/client/index.js';
import { INFERENCE_MAX_RECORDS } from '../../src/contract/inference.js';
import { fitPca } from '../../src/core/pca.js';
import { generatedMatrix, storeModel, wireRecords } from '../../bench/lib/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Normal-only telemetry of a small fleet: the model's training rows and the records sent. */
const NORMAL = { hostCount: 4, durationS: 3600 * 6, intervalS: 60, anomalyRate: 0, seed: 7 };

const OWNER = 'inference-test';
let srv: TestServer;
let modelId: string;
let pendingId: string;

beforeAll(async () => {
  srv = await startTestServer();
  const model = fitPca(generatedMatrix(NORMAL));
  modelId = await storeModel(srv.pool, model, OWNER);
  pendingId = await storeModel(srv.pool, null, OWNER);
});

afterAll(async () => {
  await srv?.close();
});

/** POSTs a raw body and returns status and parsed JSON. */
async function post(
  body: string,
): Promise<{ status: number; json: { error?: { code: string; message: string; details: unknown } } }> {
  const res = await fetch(`${srv.apiUrl}/inference`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  return {
    status: res.status,
    json: (await res.json()) as { error?: { code: string; message: string; details: unknown } },
  };
}

describe('POST /inference: bad input', () => {
  it('answers 400 naming the field for a malformed body', async () => {
    const rec = wireRecords(NORMAL, 1)[0]!;
    const cases: [unknown, string, string][] = [
      [{ model_id: 'nope', records: [rec] }, 'body.model_id', 'model_id must be a UUID; got "nope"'],
      [
        { model_id: modelId, records: [] },
        'body.records',
        'records must hold at least 1 record; got an empty array',
      ],
      [
        { model_id: modelId, records: [rec, { ...rec, cpu_usage: 'high' }] },
        'body.records.1.cpu_usage',
        'cpu_usage must be a number or null; got "high"',
      ],
      [
        { model_id: modelId, records: [{ ...rec, ts: '2024-13-45' }] },
        'body.records.0.ts',
        'ts must be an RFC 3339 timestamp with an offset, e.g. 2024-01-01T00:00:00Z; got "2024-13-45"',
      ],
      [
        { model_id: modelId, records: [{ ...rec, colour: 'red' }] },
        'body.records.0',
        'records.0: unknown field colour; expected host_id, ts, project_id, region and the metrics cpu_usage, memory_usage, disk_io, network_in, network_out, load_avg, latency_ms, error_rate',
      ],
      [
        { model_id: modelId, records: 'all of them' },
        'body.records',
        'records must be an array of telemetry records; got "all of them"',
      ],
    ];
    for (const [body, path, message] of cases) {
      const { status, json } = await post(JSON.stringify(body));
      expect(status).toBe(400);
      expect(json.error!.code).toBe('invalid_input');
      expect(json.error!.message).toBe(message);
      expect((json.error!.details as { issues: { path: string }[] }).issues[0]!.path).toBe(path);
    }
  });

  it('answers 400 for a body that is not JSON', async () => {
    const { status, json } = await post('{"model_id": ');
    expect(status).toBe(400);
    expect(json.error!.message).toMatch(/^body must be valid JSON/);
  });

  it('answers 413 for more records than the documented limit', async () => {
    // Minimal records keep the body under the server's byte limit: the record count is what is refused.
    const tiny = { host_id: 'h', ts: '2024-01-01T00:00:00Z' };
    const { status, json } = await post(
      JSON.stringify({
        model_id: modelId,
        records: Array.from({ length: INFERENCE_MAX_RECORDS + 1 }, () => tiny),
      }),
    );
    expect(status).toBe(413);
    expect(json.error!.code).toBe('payload_too_large');
    expect(json.error!.message).toBe(
      `records must hold at most ${INFERENCE_MAX_RECORDS} records; got ${INFERENCE_MAX_RECORDS + 1}`,
    );
  });

  it('answers 404 for an unknown model and 409 for one not completed', async () => {
    const rec = wireRecords(NORMAL, 1)[0]!;
    const unknown = randomUUID();
    const a = await post(JSON.stringify({ model_id: unknown, records: [rec] }));
    expect(a.status).toBe(404);
    expect(a.json.error!.message).toBe(`model ${unknown} not found`);
    const b = await post(JSON.stringify({ model_id: pendingId, records: [rec] }));
    expect(b.status).toBe(409);
    expect(b.json.error!.message).toBe(`model ${pendingId} is pending; only a completed model can score`);
  });
});

describe('POST /inference: scoring', () => {
  it('scores every record, flags a spike and records the run', async () => {
    const records = wireRecords(NORMAL, 50);
    // A spike far outside the training data on error_rate.
    records[10] = { ...records[10], error_rate: 1e6 };
    const res = await srv.client.inference({ model_id: modelId, records: records as never });
    expect(res.model_id).toBe(modelId);
    expect(res.results).toHaveLength(50);
    expect(res.record_count).toBe(50);
    expect(res.invalid_count).toBe(0);
    expect(res.results[10]).toMatchObject({ anomalous: true, valid: true, top_metric: 'error_rate' });
    expect(res.results[10]!.fused!).toBeGreaterThanOrEqual(1);
    for (const r of res.results) {
      expect(r.valid).toBe(true);
      expect(r.spe).toBeTypeOf('number');
      expect(r.t2).toBeTypeOf('number');
      expect(r.z_max).toBeTypeOf('number');
      expect(r.anomalous).toBe(r.fused! >= 1);
    }
    expect(res.anomalous_count).toBe(res.results.filter((r) => r.anomalous).length);

    const run = await srv.client.getInferenceRun(res.run_id);
    expect(run).toMatchObject({
      id: res.run_id,
      model_id: modelId,
      record_count: 50,
      invalid_count: 0,
      anomalous_count: res.anomalous_count,
    });
    expect(run.latency_ms).toBeCloseTo(res.latency_ms, 6);
  });

  it('returns records with missing or non-finite metrics as invalid, not as an error', async () => {
    const [a, b, c, d] = wireRecords(NORMAL, 4);
    const { cpu_usage: _gone, ...missing } = a!;
    // 1e999 is valid JSON that parses to Infinity: it must come back invalid.
    const body = `{"model_id":"${modelId}","records":[${JSON.stringify(missing)},${JSON.stringify({ ...b, disk_io: null })},${JSON.stringify(c).replace(/"load_avg":[^,}]+/, '"load_avg":1e999')},${JSON.stringify(d)}]}`;
    const res = await fetch(`${srv.apiUrl}/inference`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(200);
    const json = (await res.json()) as {
      results: Record<string, unknown>[];
      invalid_count: number;
      record_count: number;
    };
    expect(json.record_count).toBe(4);
    expect(json.invalid_count).toBe(3);
    for (const i of [0, 1, 2]) {
      expect(json.results[i]).toEqual({
        fused: null,
        spe: null,
        t2: null,
        z_max: null,
        anomalous: false,
        top_metric: null,
        valid: false,
      });
    }
    expect(json.results[3]!.valid).toBe(true);
  });
});

describe('GET /inference_runs', () => {
  it('lists runs newest first, filters by model and pages with a cursor', async () => {
    const rec = wireRecords(NORMAL, 1)[0]!;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await srv.client.inference({ model_id: modelId, records: [rec] as never })).run_id);
    const first = await srv.client.listInferenceRuns({ model_id: modelId, limit: 2 });
    expect(first.items.map((r) => r.id)).toEqual([ids[2], ids[1]]);
    expect(first.next_cursor).not.toBeNull();
    const second = await srv.client.listInferenceRuns({
      model_id: modelId,
      limit: 2,
      cursor: first.next_cursor!,
    });
    expect(second.items[0]!.id).toBe(ids[0]);
    const other = await srv.client.listInferenceRuns({ model_id: pendingId });
    expect(other.items).toEqual([]);
  });

  it('answers 404 for an unknown run and 400 for a malformed id or query', async () => {
    const unknown = randomUUID();
    await expect(srv.client.getInferenceRun(unknown)).rejects.toMatchObject({
      status: 404,
      message: `inference run ${unknown} not found`,
    });
    await expect(srv.client.getInferenceRun('run-1')).rejects.toMatchObject({
      status: 400,
      message: 'id must be a UUID; got "run-1"',
    });
    const err = await srv.client.listInferenceRuns({ limit: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).message).toBe('limit must be an integer in [1, 500]; got "0"');
  });
});
