/**
 * Hostile input, on the raw addon and on the typed library: non-finite values, 0 and 1 rows, d = 1
 * and d = 10,000, mismatched lengths, detached and SharedArrayBuffer-backed arrays, getters that
 * detach arrays mid-call, and tampered model.json. Each is a clean error or a correct result; the
 * sanitizer run (scripts/sanitize.sh) runs this file against an AddressSanitizer build, where a
 * read of freed memory stops the run.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  fitPca,
  fitPcaAsync,
  PcaAccumulator,
  PcaError,
  PcaModel,
  robustStats,
  scoreBatch,
  type Matrix,
  type ModelJson,
} from '../../src/index.js';
import {
  native,
  type NativeAccumulator,
  type NativeFitOptions,
  type NativeScorerInit,
} from '../../src/native/binding.js';

setFlagsFromString('--expose-gc');
/** A full garbage collection: frees the memory of every unreachable (e.g. transferred) buffer. */
const gc = runInNewContext('gc') as () => void;

const opts: NativeFitOptions = {
  variance: 0.95,
  nComponents: 0,
  alpha: 0.001,
  zLimit: 6,
  speRule: 'jackson_mudholkar',
  speQuantile: 0,
};

function matrix(rows: number, cols: number, f: (i: number, j: number) => number): Matrix {
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) data[i * cols + j] = f(i, j);
  return { rows, cols, data };
}

const good = matrix(400, 5, (i, j) => Math.sin(i * 0.37 + j) * (j + 1) + Math.cos(i * 0.11 * (j + 1)));
const meta = { trainedAt: '2024-01-01T00:00:00.000Z' };
const model = fitPca(good, { nComponents: 2, ...meta });

/** Detaches a typed array's buffer and frees its memory. */
function detach(a: Float64Array): void {
  const buffer = a.buffer as ArrayBuffer;
  structuredClone(buffer, { transfer: [buffer] });
  gc();
}

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

function scorerInit(d: number): NativeScorerInit {
  // Mean 0, scale 1, one component along metric 0 with eigenvalue 1, median 0, z scale 1.
  const components = new Float64Array(d);
  components[0] = 1;
  return {
    nFeatures: d,
    nComponents: 1,
    mean: new Float64Array(d),
    scale: new Float64Array(d).fill(1),
    components,
    eigenvalues: new Float64Array(d).fill(1),
    median: new Float64Array(d),
    zScale: new Float64Array(d).fill(1),
    speLimit: 1,
    zLimit: 6,
  };
}

function scoreRaw(scorer: InstanceType<typeof native.Scorer>, data: Float64Array, rows: number, d: number) {
  const out = {
    fused: new Float64Array(rows),
    spe: new Float64Array(rows),
    t2: new Float64Array(rows),
    zMax: new Float64Array(rows),
    topMetric: new Int32Array(rows),
    anomalous: new Uint8Array(rows),
    contributions: new Float64Array(rows * d),
  };
  const invalid = scorer.score(data, rows, out.fused, out.spe, out.t2, out.zMax, out.topMetric, out.anomalous, out.contributions);
  return { invalid, ...out };
}

describe('non-finite values', () => {
  it.each([NaN, Infinity, -Infinity])('%s in training rows is a RangeError, raw and typed', async (v) => {
    const m = matrix(50, 3, (i, j) => i * (j + 1) + Math.sin(i));
    m.data[7 * 3 + 1] = v;
    expect(() => native.fit(m.data, 50, 3, opts)).toThrow(RangeError);
    expect(() => native.robustStats(m.data, 50, 3)).toThrow(RangeError);
    await expect(native.fitAsync(m.data, 50, 3, opts)).rejects.toThrow(RangeError);
    const acc = new native.Accumulator(3);
    expect(() => acc.push(m.data, 50, 3)).toThrow(RangeError);
    expect(acc.rows()).toBe(0);
    expect(() => fitPca(m)).toThrow(new RangeError(`m.data values must be finite; row 7, column 1 is ${v}`));
    await expect(fitPcaAsync(m)).rejects.toThrow(RangeError);
    expect(() => robustStats(m)).toThrow(RangeError);
  });

  it('non-finite options are refused by the addon itself', () => {
    for (const key of ['variance', 'alpha', 'zLimit', 'nComponents'] as const) {
      for (const v of [NaN, Infinity, -Infinity]) {
        expect(() => native.fit(good.data, good.rows, good.cols, { ...opts, [key]: v })).toThrow(RangeError);
      }
    }
    const acc = new native.Accumulator(5);
    acc.push(good.data, good.rows, good.cols);
    const r = native.robustStats(good.data, good.rows, good.cols);
    expect(() => acc.finish(Float64Array.of(1, 1, NaN, 1, 1), r.mad, r.meanAbsDev, opts)).toThrow(RangeError);
    expect(() => acc.finish(r.median, r.mad, r.meanAbsDev, { ...opts, alpha: Infinity })).toThrow(RangeError);
  });

  it('non-finite records score as invalid, raw and typed', () => {
    const scorer = new native.Scorer(scorerInit(3));
    const out = scoreRaw(scorer, Float64Array.of(1, 2, 3, NaN, 0, 0, 0, Infinity, 0), 3, 3);
    expect(out.invalid).toBe(2);
    expect(out.fused[0]).toBeGreaterThan(0);
    expect([out.topMetric[1], out.topMetric[2]]).toEqual([-1, -1]);
    const typed = scoreBatch(model, { rows: 1, cols: 5, data: Float64Array.of(0, -Infinity, 0, 0, 0) });
    expect(typed.invalidCount).toBe(1);
    expect(typed.fused[0]).toBeNaN();
  });
});

describe('0 and 1 rows', () => {
  it.each([0, 1])('%i rows: fitting is PCA_TOO_FEW_ROWS, scoring is empty or exact', async (rows) => {
    const m = matrix(rows, 4, (i, j) => i + j);
    expect(errorOf(() => native.fit(m.data, rows, 4, opts))).toMatchObject({ code: 'PCA_TOO_FEW_ROWS' });
    await expect(native.fitAsync(m.data, rows, 4, opts)).rejects.toMatchObject({ code: 'PCA_TOO_FEW_ROWS' });
    expect(errorOf(() => fitPca(m))).toBeInstanceOf(PcaError);
    await expect(fitPcaAsync(m)).rejects.toBeInstanceOf(PcaError);
    const acc = new PcaAccumulator(4);
    acc.push(m);
    const r = { median: new Float64Array(4), mad: new Float64Array(4), meanAbsDevFromMedian: new Float64Array(4) };
    expect(errorOf(() => acc.finish(r))).toMatchObject({ code: 'PCA_TOO_FEW_ROWS' });
    const out = scoreBatch(model, matrix(rows, 5, () => 0));
    expect(out.rows).toBe(rows);
  });

  it('robust statistics: 0 rows is a RangeError, 1 row is that row', () => {
    expect(() => native.robustStats(new Float64Array(0), 0, 3)).toThrow(RangeError);
    expect(() => robustStats({ rows: 0, cols: 3, data: new Float64Array(0) })).toThrow(RangeError);
    const r = robustStats({ rows: 1, cols: 3, data: Float64Array.of(4, -2, 7) });
    expect(Array.from(r.median)).toEqual([4, -2, 7]);
    expect(Array.from(r.mad)).toEqual([0, 0, 0]);
  });
});

describe('d = 1 and d = 10,000', () => {
  it('d = 1 fits and scores through the raw addon', () => {
    const m = matrix(100, 1, (i) => Math.sin(i) * 3 + 10);
    const r = native.fit(m.data, 100, 1, opts);
    expect(r.nComponents).toBe(1);
    expect(r.spe.method).toBe('none');
    const scorer = new native.Scorer({ ...r, speLimit: r.speLimit });
    const out = scoreRaw(scorer, Float64Array.of(10, 1000), 2, 1);
    expect(out.spe[0]).toBe(0);
    expect(out.anomalous[1]).toBe(1);
  });

  it('d = 10,000: robust statistics and scoring are correct, raw and typed', () => {
    const d = 10_000;
    const rows = matrix(3, d, (i, j) => (i - 1) * (j + 1));
    const r = native.robustStats(rows.data, 3, d);
    expect(r.median.every((v) => v === 0)).toBe(true);
    expect(r.mad[9999]).toBe(10_000);
    // One record: metric 0 is the component (t = x₀), the others are residual.
    const x = new Float64Array(d).map((_, j) => (j === 0 ? 3 : j === 5 ? 2 : 0.001));
    const spe = 4 + 0.001 ** 2 * (d - 2);
    const out = scoreRaw(new native.Scorer(scorerInit(d)), x, 1, d);
    expect(out.invalid).toBe(0);
    expect(out.t2[0]).toBe(9);
    expect(out.spe[0]).toBeCloseTo(spe, 9);
    expect(out.zMax[0]).toBe(3);
    expect(out.topMetric[0]).toBe(5);
    expect(out.contributions[5]).toBe(4);
    const init = scorerInit(d);
    const json: ModelJson = {
      ...model.toJSON(),
      metrics: Array.from({ length: d }, (_, j) => `m${j}`),
      mean: Array.from(init.mean),
      scale: Array.from(init.scale),
      components: [Array.from(init.components)],
      eigenvalues: Array.from(init.eigenvalues),
      explained_variance_ratio: new Array<number>(d).fill(1 / d),
      n_components: 1,
      median: Array.from(init.median),
      mad: new Array<number>(d).fill(1),
      z_scale: Array.from(init.zScale),
      spe_limit: 1,
    };
    const wide = PcaModel.fromJSON(JSON.parse(JSON.stringify(json)));
    const typed = scoreBatch(wide, { rows: 1, cols: d, data: x });
    expect([typed.t2[0], typed.spe[0], typed.zMax[0], typed.topMetric[0]]).toEqual([
      out.t2[0],
      out.spe[0],
      out.zMax[0],
      out.topMetric[0],
    ]);
    expect(() => PcaModel.fromJSON({ ...json, metrics: [...json.metrics, 'one_more'] })).toThrow(RangeError);
  });
});

describe('mismatched lengths', () => {
  it('raw addon: data, outputs and model arrays of the wrong length are RangeErrors', () => {
    expect(() => native.fit(new Float64Array(11), 4, 3, opts)).toThrow(new RangeError('data.length must equal rows * cols = 12; got 11'));
    expect(() => native.robustStats(new Float64Array(13), 4, 3)).toThrow(RangeError);
    expect(() => new native.Accumulator(3).push(new Float64Array(5), 2, 3)).toThrow(RangeError);
    expect(() => new native.Accumulator(3).push(new Float64Array(8), 2, 4)).toThrow(
      new RangeError('chunk.cols must equal nFeatures = 3; got 4'),
    );
    const init = scorerInit(3);
    for (const key of ['mean', 'scale', 'components', 'median', 'zScale'] as const) {
      expect(() => new native.Scorer({ ...init, [key]: new Float64Array(2) })).toThrow(RangeError);
    }
    expect(() => new native.Scorer({ ...init, eigenvalues: new Float64Array(0) })).toThrow(RangeError);
    const s = new native.Scorer(init);
    const f = new Float64Array(2);
    expect(() => s.score(new Float64Array(6), 2, f, f, f, new Float64Array(1), new Int32Array(2), new Uint8Array(2), null)).toThrow(
      new RangeError('out.zMax.length must be >= 2; got 1'),
    );
    expect(() => s.score(new Float64Array(6), 2, f, f, f, f, new Int32Array(2), new Uint8Array(2), new Float64Array(5))).toThrow(
      new RangeError('out.contributions.length must be >= 6; got 5'),
    );
  });

  it('wrong types, a Proxy and a non-wrapped receiver are errors, not reads', () => {
    expect(() => native.fit(new Float32Array(4) as never, 2, 2, opts)).toThrow(new TypeError('data must be a Float64Array'));
    expect(() => native.fit(new Proxy(new Float64Array(4), {}), 2, 2, opts)).toThrow(TypeError);
    const push = Reflect.get(native.Accumulator.prototype as object, 'push') as NativeAccumulator['push'];
    expect(() => Reflect.apply(push, {}, [new Float64Array(3), 1, 3])).toThrow();
    expect(() => Reflect.apply(push, 5, [new Float64Array(3), 1, 3])).toThrow();
  });

  it('a subarray view is read at its offset', () => {
    const padded = new Float64Array(good.data.length + 7);
    padded.set(good.data, 7);
    const view = padded.subarray(7);
    expect(fitPca({ ...good, data: view }, { nComponents: 2, ...meta }).toJSON()).toEqual(model.toJSON());
    expect(native.fit(view, good.rows, good.cols, opts)).toEqual(native.fit(good.data, good.rows, good.cols, opts));
  });
});

describe('detached buffers', () => {
  it('a detached input is a length mismatch, not a read', async () => {
    const data = Float64Array.from(good.data);
    detach(data);
    expect(() => native.fit(data, good.rows, good.cols, opts)).toThrow(RangeError);
    expect(() => native.fitAsync(data, good.rows, good.cols, opts)).toThrow(RangeError);
    expect(() => native.robustStats(data, good.rows, good.cols)).toThrow(RangeError);
    expect(() => new native.Accumulator(5).push(data, good.rows, good.cols)).toThrow(RangeError);
    expect(() => fitPca({ ...good, data })).toThrow(RangeError);
    await expect(fitPcaAsync({ ...good, data })).rejects.toThrow(RangeError);
    expect(() => scoreBatch(model, { ...good, data })).toThrow(RangeError);
  });

  it('detached outputs are too short, and zero rows write nothing', () => {
    const s = new native.Scorer(scorerInit(3));
    const f = new Float64Array(2);
    detach(f);
    const ok = new Float64Array(2);
    expect(() => s.score(new Float64Array(6), 2, f, ok, ok, ok, new Int32Array(2), new Uint8Array(2), null)).toThrow(RangeError);
    expect(s.score(new Float64Array(0), 0, f, f, f, f, new Int32Array(0), new Uint8Array(0), null)).toBe(0);
  });

  it('fitAsync: the input detached and freed while the fit runs changes nothing', async () => {
    const expected = native.fit(good.data, good.rows, good.cols, opts);
    const data = Float64Array.from(good.data);
    const pending = native.fitAsync(data, good.rows, good.cols, opts);
    detach(data);
    expect(await pending).toEqual(expected);
  });

  it('a getter that detaches and frees the rows mid-call is refused, not read', () => {
    const hostile = (data: Float64Array): NativeFitOptions => ({
      ...opts,
      get variance() {
        detach(data);
        return 0.95;
      },
    });
    const a = Float64Array.from(good.data);
    expect(() => native.fit(a, good.rows, good.cols, hostile(a))).toThrow(RangeError);
    const b = Float64Array.from(good.data);
    expect(() => native.fitAsync(b, good.rows, good.cols, hostile(b))).toThrow(RangeError);
    const init = scorerInit(3);
    const mean = Float64Array.of(0, 0, 0);
    const tricky = {
      ...init,
      mean,
      get zLimit() {
        detach(mean);
        return 6;
      },
    };
    expect(() => new native.Scorer(tricky)).toThrow(new RangeError('model.mean.length must be 3; got 0'));
  });
});

describe('SharedArrayBuffer-backed arrays', () => {
  const shared = (a: Float64Array): Float64Array => {
    const s = new Float64Array(new SharedArrayBuffer(a.byteLength));
    s.set(a);
    return s;
  };

  it('fit, fitAsync, robust statistics, the accumulator and scoring give the ordinary results', async () => {
    const data = shared(good.data);
    const m = { ...good, data };
    expect(native.fit(data, good.rows, good.cols, opts)).toEqual(native.fit(good.data, good.rows, good.cols, opts));
    expect((await fitPcaAsync(m, { nComponents: 2, ...meta })).toJSON()).toEqual(model.toJSON());
    expect(robustStats(m)).toEqual(robustStats(good));
    const acc = new PcaAccumulator(5);
    acc.push(m);
    expect(acc.finish(robustStats(good), { nComponents: 2 }, meta).toJSON()).toEqual(model.toJSON());
    const out = scoreBatch(model, m);
    const expected = scoreBatch(model, good);
    expect(out.fused).toEqual(expected.fused);
    const s = new native.Scorer(scorerInit(5));
    expect(scoreRaw(s, data, good.rows, 5).fused).toEqual(scoreRaw(s, good.data, good.rows, 5).fused);
  });
});

describe('tampered model.json', () => {
  const json = (): ModelJson => JSON.parse(JSON.stringify(model.toJSON())) as ModelJson;

  it.each<[string, (j: ModelJson) => unknown, ErrorConstructor]>([
    ['a short mean', (j) => j.mean.pop(), RangeError],
    ['a long scale', (j) => j.scale.push(1), RangeError],
    ['a short component row', (j) => j.components[1]!.pop(), RangeError],
    ['one component row too many', (j) => j.components.push([...j.components[0]!]), RangeError],
    ['NaN in the mean', (j) => (j.mean[2] = NaN), TypeError],
    ['Infinity in a component', (j) => (j.components[0]![0] = Infinity), TypeError],
    ['a string for a number', (j) => ((j as unknown as { spe_limit: string }).spe_limit = '1'), TypeError],
    ['a missing field', (j) => delete (j as Partial<ModelJson>).z_scale, TypeError],
    ['an unknown field', (j) => ((j as unknown as Record<string, unknown>).extra = 1), TypeError],
    ['n_components 0', (j) => (j.n_components = 0), TypeError],
    ['n_components past d − 1', (j) => (j.n_components = 5), RangeError],
    ['a negative scale', (j) => (j.scale[0] = -1), RangeError],
    ['a zero z scale', (j) => (j.z_scale[3] = 0), RangeError],
    ['a subnormal scale', (j) => (j.scale[1] = 5e-324), RangeError],
    ['a subnormal SPE limit', (j) => (j.spe_limit = 5e-324), RangeError],
    ['duplicate metric names', (j) => (j.metrics[1] = j.metrics[0]!), RangeError],
    ['10,001 metrics', (j) => (j.metrics = Array.from({ length: 10_001 }, (_, i) => `m${i}`)), RangeError],
    ['format_version 2', (j) => ((j as unknown as { format_version: number }).format_version = 2), TypeError],
  ])('%s is a clean error', (_, tamper, kind) => {
    const j = json();
    tamper(j);
    expect(() => PcaModel.fromJSON(j)).toThrow(kind);
  });

  it('a model that survives the checks scores exactly as the original', () => {
    const again = PcaModel.fromJSON(json());
    expect(scoreBatch(again, good).fused).toEqual(scoreBatch(model, good).fused);
  });
});
