import { describe, expect, it } from 'vitest';
import { INFERENCE_MAX_RECORDS, InferenceRequestSchema } from '../../src/contract/inference.js';
import { fitPca, PcaModel } from '../../src/core/pca.js';
import { recordsToMatrix, type MetricValues } from '../../src/core/column-map.js';
import { METRICS, type Matrix } from '../../src/core/types.js';
import { ModelCache } from '../../src/scorer/model-cache.js';
import { recordScoreAt, recordScores, scoreRecords } from '../../src/scorer/score-records.js';
import { referenceScore } from '../helpers/reference-pca.js';

/** Deterministic training rows: eight metrics driven by three latent factors plus small noise. */
function trainingMatrix(rows: number): Matrix {
  let state = 12345;
  const uniform = () => {
    // 32-bit LCG (Numerical Recipes constants): plenty for test data.
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const normal = () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
  const d = METRICS.length;
  const data = new Float64Array(rows * d);
  for (let i = 0; i < rows; i++) {
    const [a, b, c] = [normal(), normal(), normal()];
    const base = [
      50 + 10 * a,
      60 + 8 * b,
      20 + 5 * a,
      100 + 30 * c,
      80 + 25 * c,
      2 + 0.5 * a,
      30 + 6 * b,
      1 + 0.2 * a,
    ];
    for (let j = 0; j < d; j++) data[i * d + j] = base[j]! + 0.3 * normal();
  }
  return { rows, cols: d, data };
}

const model = fitPca(trainingMatrix(2000));

function recordOf(values: readonly number[]): Record<string, number> {
  return Object.fromEntries(METRICS.map((m, j) => [m, values[j]!]));
}

const normalRecord = recordOf([50, 60, 20, 100, 80, 2, 30, 1]);
const spikeRecord = recordOf([50, 60, 20, 100, 80, 2, 30, 9]);

describe('recordsToMatrix', () => {
  it('rejects a buffer that is too short, naming its size', () => {
    expect(() => recordsToMatrix([normalRecord, normalRecord], METRICS, new Float64Array(10))).toThrow(
      new RangeError('data must hold at least rows × cols = 16 values; got 10'),
    );
  });

  it('lays records out row-major in the given metric order, NaN for anything not a number', () => {
    const m = recordsToMatrix(
      [{ b: 2, a: 1 }, { a: null, b: 'x' as unknown as number }, { a: Infinity }],
      ['a', 'b'],
    );
    expect(m.rows).toBe(3);
    expect(m.cols).toBe(2);
    expect(Array.from(m.data)).toEqual([1, 2, NaN, NaN, Infinity, NaN]);
  });

  it('writes into a caller buffer', () => {
    const buf = new Float64Array(32).fill(-1);
    const m = recordsToMatrix([{ a: 5 }], ['a'], buf);
    expect(m.data.buffer).toBe(buf.buffer);
    expect(Array.from(m.data)).toEqual([5]);
  });
});

describe('scoreRecords', () => {
  it('scores as the pinned formulas do, whatever the key order of a record', () => {
    const reversed = Object.fromEntries(Object.entries(spikeRecord).reverse());
    const scored = scoreRecords(model, [normalRecord, spikeRecord, reversed]);
    const ref = {
      mean: model.mean,
      scale: model.scale,
      components: Array.from({ length: model.nComponents }, (_, c) =>
        model.components.subarray(c * model.nFeatures, (c + 1) * model.nFeatures),
      ),
      eigenvalues: model.eigenvalues,
      median: model.median,
      zScale: model.zScale,
      speLimit: model.speLimit,
      zLimit: model.zLimit,
    };
    const records = [normalRecord, spikeRecord, spikeRecord];
    records.forEach((rec, i) => {
      const want = referenceScore(
        ref,
        METRICS.map((m) => rec[m]!),
      );
      expect(scored.fused[i]).toBeCloseTo(want.fused, 9);
      expect(scored.spe[i]).toBeCloseTo(want.spe, 9);
      expect(scored.t2[i]).toBeCloseTo(want.t2, 9);
      expect(scored.zMax[i]).toBeCloseTo(want.zMax, 9);
      expect(scored.topMetric[i]).toBe(want.topMetric);
      expect(scored.anomalous[i]).toBe(want.fused >= 1 ? 1 : 0);
    });
    // The spike on error_rate is far outside training data; the normal record is not.
    expect(scored.anomalous[0]).toBe(0);
    expect(scored.anomalous[1]).toBe(1);
    expect(scored.anomalousCount).toBe(2);
    expect(scored.invalidCount).toBe(0);
    expect(recordScoreAt(scored, 1).topMetric).toBe('error_rate');
  });

  it('marks records with a missing, null or non-finite metric invalid without failing the batch', () => {
    const missing: MetricValues = { ...normalRecord, disk_io: undefined };
    const nulled: MetricValues = { ...normalRecord, latency_ms: null };
    const infinite: MetricValues = { ...normalRecord, cpu_usage: Infinity };
    const scored = scoreRecords(model, [missing, normalRecord, nulled, infinite, spikeRecord]);
    expect(scored.invalidCount).toBe(3);
    expect(scored.anomalousCount).toBe(1);
    const results = recordScores(scored);
    for (const i of [0, 2, 3]) {
      expect(results[i]).toEqual({
        fused: null,
        spe: null,
        t2: null,
        zMax: null,
        anomalous: false,
        topMetric: null,
        valid: false,
      });
    }
    expect(results[1]!.valid).toBe(true);
    expect(results[1]!.fused).toBeTypeOf('number');
    expect(results[4]!.anomalous).toBe(true);
  });

  it('gives empty results for no records', () => {
    const scored = scoreRecords(model, []);
    expect(scored.rows).toBe(0);
    expect(recordScores(scored)).toEqual([]);
  });

  it('rejects an out-of-range record index, naming the range', () => {
    const scored = scoreRecords(model, [normalRecord]);
    expect(() => recordScoreAt(scored, 1)).toThrow(new RangeError('i must be an integer in [0, 0]; got 1'));
  });
});

describe('ModelCache', () => {
  it('rejects a bad size', () => {
    expect(() => new ModelCache(() => Promise.resolve(model), { maxEntries: 0 })).toThrow(
      new RangeError('maxEntries must be an integer ≥ 1; got 0'),
    );
  });

  it('loads once per id, shares a load in flight and forgets the least recently used', async () => {
    const loads: string[] = [];
    const cache = new ModelCache(
      (id) => {
        loads.push(id);
        return Promise.resolve(PcaModel.fromJSON(model.toJSON()));
      },
      { maxEntries: 2 },
    );
    const [a1, a2] = await Promise.all([cache.get('a'), cache.get('a')]);
    expect(a1).toBe(a2);
    await cache.get('b');
    await cache.get('a'); // a is now the most recently used
    await cache.get('c'); // evicts b
    expect(cache.size).toBe(2);
    await cache.get('a');
    await cache.get('b');
    expect(loads).toEqual(['a', 'b', 'c', 'b']);
    cache.evict('b');
    await cache.get('b');
    expect(loads).toEqual(['a', 'b', 'c', 'b', 'b']);
  });

  it('does not keep a failed load', async () => {
    let fail = true;
    const cache = new ModelCache((id) =>
      fail ? Promise.reject(new Error(`no ${id}`)) : Promise.resolve(model),
    );
    await expect(cache.get('x')).rejects.toThrow('no x');
    fail = false;
    await expect(cache.get('x')).resolves.toBe(model);
  });
});

describe('InferenceRequestSchema', () => {
  const id = '7d3f2c9e-0d8b-4a59-9a55-2f2b3f7f8a10';
  const rec = { host_id: 'host-0001', ts: '2024-01-01T00:00:00Z', ...normalRecord };

  it('names the bad field and what arrived', () => {
    const cases: [unknown, string, string][] = [
      [{ records: [rec] }, 'model_id', 'model_id must be a UUID; got nothing'],
      [{ model_id: id, records: [] }, 'records', 'records must hold at least 1 record; got an empty array'],
      [
        { model_id: id, records: [{ ...rec, cpu_usage: '12' }] },
        'records.0.cpu_usage',
        'cpu_usage must be a number or null; got "12"',
      ],
      [
        { model_id: id, records: [rec, { ...rec, ts: 'yesterday' }] },
        'records.1.ts',
        'ts must be an RFC 3339 timestamp with an offset, e.g. 2024-01-01T00:00:00Z; got "yesterday"',
      ],
      [
        { model_id: id, records: [{ ...rec, host_id: '' }] },
        'records.0.host_id',
        'host_id must be a non-empty string; got ""',
      ],
      [
        { model_id: id, records: [{ ...rec, cpu_usge: 1 }] },
        'records.0',
        'unknown field cpu_usge; expected host_id, ts, project_id, region and the metrics cpu_usage, memory_usage, disk_io, network_in, network_out, load_avg, latency_ms, error_rate',
      ],
    ];
    for (const [body, path, message] of cases) {
      const res = InferenceRequestSchema.safeParse(body);
      expect(res.success).toBe(false);
      const issue = res.error!.issues[0]!;
      expect(issue.path.join('.')).toBe(path);
      expect(issue.message).toBe(message);
    }
  });

  it('caps the batch at the documented limit', () => {
    const res = InferenceRequestSchema.safeParse({
      model_id: id,
      records: Array.from({ length: INFERENCE_MAX_RECORDS + 1 }, () => rec),
    });
    expect(res.success).toBe(false);
    expect(res.error!.issues[0]!.message).toBe(
      `records must hold at most ${INFERENCE_MAX_RECORDS} records; got ${INFERENCE_MAX_RECORDS + 1}`,
    );
  });

  it('parses into camelCase with ts in ms and absent metrics left undefined', () => {
    const { cpu_usage: _dropped, ...withoutCpu } = rec as Record<string, unknown>;
    const parsed = InferenceRequestSchema.parse({
      model_id: id,
      records: [{ ...withoutCpu, memory_usage: null, ts: '2024-01-01T01:00:00.5+01:00' }],
    });
    expect(parsed.modelId).toBe(id);
    expect(parsed.records[0]!.hostId).toBe('host-0001');
    expect(parsed.records[0]!.ts).toBe(Date.parse('2024-01-01T00:00:00.500Z'));
    expect(parsed.records[0]!.metrics.cpu_usage).toBeUndefined();
    expect(parsed.records[0]!.metrics.memory_usage).toBeNull();
    expect(parsed.records[0]!.metrics.error_rate).toBe(1);
  });
});
