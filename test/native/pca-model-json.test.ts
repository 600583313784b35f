/**
 * PcaModel ↔ model.json: DESIGN.md's snake_case fields, an exact round trip through
 * JSON.stringify / JSON.parse, identical refits, and clear errors for malformed models.
 */
import { describe, expect, it } from 'vitest';
import { fitPca, METRICS, PcaModel, scoreBatch, type Matrix, type ModelJson } from '../../src/index.js';

function telemetryLike(rows: number): Matrix {
  const data = new Float64Array(rows * 8);
  for (let i = 0; i < rows; i++) {
    const a = Math.sin(i * 0.013) + 0.3 * Math.sin(i * 1.7);
    const b = Math.cos(i * 0.021) + 0.3 * Math.cos(i * 2.3);
    const c = Math.sin(i * 0.005 + 1) + 0.2 * Math.sin(i * 3.1);
    for (let j = 0; j < 8; j++) data[i * 8 + j] = 50 + (j + 1) * a + (j % 3) * b + (j % 2) * c + 0.01 * Math.sin(i * (j + 5.5));
  }
  return { rows, cols: 8, data };
}

const m = telemetryLike(2000);
const model = fitPca(m, { datasetId: '2b0e6a86-3a1d-4a9e-9a43-1f1a2f7e9c11', params: { host_count: 10 } });

describe('model.json', () => {
  it('has exactly DESIGN.md fields, snake_case, format_version 1, default metric names', () => {
    const json = model.toJSON();
    expect(Object.keys(json).sort()).toEqual(
      [
        'format_version', 'metrics', 'mean', 'scale', 'components', 'eigenvalues', 'explained_variance_ratio',
        'n_components', 'n_samples', 'median', 'mad', 'z_scale', 'spe_limit', 't2_limit', 'z_limit', 'limits',
        'dataset_id', 'params', 'trained_at',
      ].sort(),
    );
    expect(json.format_version).toBe(1);
    expect(json.metrics).toEqual([...METRICS]);
    expect(json.components).toHaveLength(json.n_components);
    expect(json.eigenvalues).toHaveLength(8);
    expect(json.n_samples).toBe(2000);
    expect(json.dataset_id).toBe('2b0e6a86-3a1d-4a9e-9a43-1f1a2f7e9c11');
    expect(json.params).toEqual({
      variance: 0.95,
      n_components: null,
      alpha: 0.001,
      z_limit: 6,
      spe_limit: { method: 'jackson_mudholkar' },
      host_count: 10,
    });
    expect(Number.isNaN(Date.parse(json.trained_at))).toBe(false);
  });

  it('round-trips exactly through JSON text, and the reloaded model scores identically', () => {
    const text = JSON.stringify(model);
    const again = PcaModel.fromJSON(JSON.parse(text));
    expect(JSON.stringify(again)).toBe(text);
    expect(again.toJSON()).toEqual(model.toJSON());
    const a = scoreBatch(model, m);
    const b = scoreBatch(again, m);
    expect(Buffer.from(b.fused.buffer).equals(Buffer.from(a.fused.buffer))).toBe(true);
    expect(Buffer.from(b.topMetric.buffer).equals(Buffer.from(a.topMetric.buffer))).toBe(true);
  });

  it('two trainings of the same rows are identical but for dataset_id and trained_at', () => {
    const other = fitPca(m, { params: { host_count: 10 } });
    const { dataset_id: _a, trained_at: _b, ...x } = model.toJSON();
    const { dataset_id: _c, trained_at: _d, ...y } = other.toJSON();
    expect(y).toEqual(x);
  });

  it('exposes read-only state; array getters are copies', () => {
    const mean = model.mean;
    mean[0] = 1e9;
    expect(model.mean[0]).not.toBe(1e9);
    expect(model.nFeatures).toBe(8);
    expect(model.components).toHaveLength(model.nComponents * 8);
  });
});

describe('PcaModel.fromJSON rejects malformed models', () => {
  const base = model.toJSON();
  const variant = (patch: (j: ModelJson) => void): unknown => {
    const j = structuredClone(base);
    patch(j);
    return j;
  };

  it.each([
    ['not an object', () => 'model', TypeError, /^model is invalid/],
    ['wrong format_version', () => variant((j) => ((j as { format_version: number }).format_version = 2)), TypeError, /^model\.format_version is invalid/],
    ['a string number', () => variant((j) => ((j as unknown as { spe_limit: string }).spe_limit = '1')), TypeError, /^model\.spe_limit is invalid/],
    ['a missing field', () => variant((j) => delete (j as Partial<ModelJson>).z_scale), TypeError, /^model\.z_scale is invalid/],
    ['an unknown field', () => variant((j) => ((j as Record<string, unknown>).extra = 1)), TypeError, /^model is invalid/],
    ['a non-finite number', () => variant((j) => (j.mean[2] = Infinity)), TypeError, /^model\.mean\.2 is invalid/],
    ['a short per-metric array', () => variant((j) => j.median.pop()), RangeError, /^model\.median\.length must be 8 \(one per metric\); got 7$/],
    ['components of the wrong width', () => variant((j) => j.components[0]!.push(0)), RangeError, /^model\.components\[0\]\.length must be 8; got 9$/],
    ['n_components disagreeing with components', () => variant((j) => (j.n_components += 1)), RangeError, /^model\.components\.length must be n_components/],
    ['a zero scale', () => variant((j) => (j.scale[3] = 0)), RangeError, /^model\.scale\[3\] must be > 0; got 0$/],
    ['a non-positive limit', () => variant((j) => (j.t2_limit = -1)), RangeError, /^model\.t2_limit must be > 0; got -1$/],
    ['duplicate metric names', () => variant((j) => (j.metrics[1] = j.metrics[0]!)), RangeError, /^model\.metrics must be unique names/],
    ['too few samples', () => variant((j) => (j.n_samples = j.n_components + 1)), RangeError, /^model\.n_samples must be > n_components \+ 1/],
  ])('%s', (_name, make, kind, message) => {
    const json = make();
    expect(() => PcaModel.fromJSON(json)).toThrow(kind);
    expect(() => PcaModel.fromJSON(json)).toThrow(message);
  });
});
