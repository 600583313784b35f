/**
 * Bad input at the TypeScript boundary and at the addon itself: each gets a clear error naming the
 * parameter (or DESIGN.md's documented result), and nothing can crash the process.
 */
import { describe, expect, it } from 'vitest';
import {
  allocateScoreOutput,
  fitPca,
  fitPcaAsync,
  PcaAccumulator,
  PcaError,
  robustStats,
  scoreBatch,
  type Matrix,
} from '../../src/index.js';
import { native } from '../../src/native/binding.js';

function matrix(rows: number, cols: number, f: (i: number, j: number) => number): Matrix {
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) data[i * cols + j] = f(i, j);
  return { rows, cols, data };
}

const good = matrix(300, 4, (i, j) => Math.sin(i * 0.37 + j) * (j + 1) + Math.cos(i * 0.11 * (j + 1)));
const model = fitPca(good, { nComponents: 2 });

describe('fitPca: bad matrices', () => {
  it('rejects a non-matrix, wrong types and wrong lengths, naming the parameter', () => {
    expect(() => fitPca(null as unknown as Matrix)).toThrow(new TypeError('m must be a matrix { rows, cols, data }; got null'));
    expect(() => fitPca({ rows: 2, cols: 2, data: [1, 2, 3, 4] } as unknown as Matrix)).toThrow(
      new TypeError('m.data must be a Float64Array; got an array'),
    );
    expect(() => fitPca({ rows: 2, cols: 2, data: new Float64Array(3) })).toThrow(
      new RangeError('m.data.length must equal rows × cols = 4; got 3'),
    );
    expect(() => fitPca({ rows: 1.5, cols: 2, data: new Float64Array(3) })).toThrow(
      new RangeError('m.rows must be an integer >= 0; got 1.5'),
    );
    expect(() => fitPca({ rows: 2, cols: 0, data: new Float64Array(0) })).toThrow(
      new RangeError('m.cols must be an integer >= 1; got 0'),
    );
  });

  it('zero rows, one row and too few rows for k are PcaError TOO_FEW_ROWS', () => {
    for (const rows of [0, 1]) {
      const err = (() => {
        try {
          fitPca(matrix(rows, 3, (i, j) => i + j));
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(PcaError);
      expect((err as PcaError).code).toBe('PCA_TOO_FEW_ROWS');
      expect((err as PcaError).message).toBe(`fitting needs at least 2 rows; got ${rows}`);
    }
    expect(() => fitPca(matrix(3, 4, (i, j) => Math.sin(i * 3 + j * j)), { nComponents: 2 })).toThrow(
      'fitting 2 components needs more than 3 rows; got 3',
    );
  });

  it('non-finite training values are a RangeError naming row and column', () => {
    const bad = matrix(50, 3, (i, j) => i * (j + 1) + Math.sin(i));
    bad.data[17 * 3 + 2] = NaN;
    expect(() => fitPca(bad)).toThrow(new RangeError('m.data values must be finite; row 17, column 2 is NaN'));
    bad.data[17 * 3 + 2] = 1;
    bad.data[4 * 3 + 0] = -Infinity;
    expect(() => fitPca(bad)).toThrow(new RangeError('m.data values must be finite; row 4, column 0 is -Infinity'));
    expect(() => robustStats(bad)).toThrow(RangeError);
  });

  it('every column constant is PcaError DEGENERATE; some constant columns get scale 1', async () => {
    expect(() => fitPca(matrix(20, 3, () => 5))).toThrow(
      expect.objectContaining({ code: 'PCA_DEGENERATE', name: 'PcaError' }) as Error,
    );
    await expect(fitPcaAsync(matrix(20, 3, () => 5))).rejects.toThrow(PcaError);
    const m = matrix(200, 4, (i, j) => (j === 1 ? 7 : Math.sin(i * (j + 1) * 0.3) + 0.1 * Math.cos(i * 1.3 * (j + 2))));
    const fitted = fitPca(m, { nComponents: 2 });
    expect(fitted.scale[1]).toBe(1);
    expect(fitted.mad[1]).toBe(0);
    expect(fitted.zScale[1]).toBe(1);
    const out = scoreBatch(fitted, m);
    expect(out.invalidCount).toBe(0);
    expect(Array.from(out.fused).every(Number.isFinite)).toBe(true);
  });

  it('nComponents past the numerical rank is PcaError RANK_DEFICIENT', () => {
    // Column 2 = column 0 + column 1: rank 2 of 3.
    const m = matrix(100, 3, (i, j) => (j < 2 ? Math.sin(i * (j + 1)) : Math.sin(i) + Math.sin(2 * i)));
    expect(() => fitPca(m, { nComponents: 2 })).not.toThrow();
    const m4 = matrix(100, 4, (i, j) => (j < 2 ? Math.sin(i * (j + 1)) : Math.sin(i) + j * Math.sin(2 * i)));
    expect(() => fitPca(m4, { nComponents: 3 })).toThrow(expect.objectContaining({ code: 'PCA_RANK_DEFICIENT' }) as Error);
    // The variance rule stops at the rank, and the residual floor marks an empty residual space.
    const r = fitPca(m4, { variance: 1 });
    expect(r.nComponents).toBe(2);
    expect(r.toJSON().limits.spe.method).toBe('residual_floor');
  });

  it('d = 1: no SPE, the fused score is the z term alone', () => {
    const m = matrix(100, 1, (i) => Math.sin(i) * 3 + 10);
    const fitted = fitPca(m);
    expect(fitted.nComponents).toBe(1);
    expect(fitted.speLimit).toBe(0);
    expect(fitted.toJSON().limits.spe).toEqual({ method: 'none' });
    expect(fitted.metrics).toEqual(['metric_0']);
    const out = scoreBatch(fitted, { rows: 2, cols: 1, data: Float64Array.of(10, 1000) }, { contributions: true });
    expect(out.spe[0]).toBe(0);
    expect(out.contributions![1]).toBe(0);
    expect(out.fused[1]! / (out.zMax[1]! / 6)).toBeCloseTo(1, 14);
    expect(out.anomalous[1]).toBe(1);
    expect(out.topMetric[1]).toBe(0);
  });
});

describe('fitPca: bad options', () => {
  it.each([
    [{ variance: 0 }, RangeError, 'options.variance must be in (0, 1]; got 0'],
    [{ variance: '0.9' }, TypeError, 'options.variance must be a number; got "0.9"'],
    [{ variance: NaN }, RangeError, 'options.variance must be finite; got NaN'],
    [{ nComponents: 4 }, RangeError, 'options.nComponents must be an integer in [1, 3]; got 4'],
    [{ nComponents: 1.5 }, RangeError, 'options.nComponents must be an integer in [1, 3]; got 1.5'],
    [{ alpha: 0.5 }, RangeError, 'options.alpha must be in (0, 0.5); got 0.5'],
    [{ zLimit: -1 }, RangeError, 'options.zLimit must be > 0; got -1'],
    [{ zLimit: Infinity }, RangeError, 'options.zLimit must be finite; got Infinity'],
    [{ speLimit: { method: 'p99' } }, RangeError, 'options.speLimit.method must be \'jackson_mudholkar\' or \'empirical\'; got "p99"'],
    [{ speLimit: { method: 'empirical', quantile: 1 } }, RangeError, 'options.speLimit.quantile must be in (0, 1); got 1'],
    [{ nComponent: 2 }, TypeError, "options has an unknown option 'nComponent'; expected one of variance, nComponents, alpha, zLimit, speLimit, metrics, datasetId, params, trainedAt"],
    [{ metrics: ['a', 'b'] }, RangeError, 'options.metrics must have 4 names (one per column); got 2'],
    [{ metrics: ['a', 'a', 'b', 'c'] }, RangeError, 'options.metrics must be unique; got a, a, b, c'],
    [{ trainedAt: 'yesterday' }, TypeError, 'options.trainedAt must be an RFC 3339 timestamp string; got "yesterday"'],
    [{ datasetId: 5 }, TypeError, 'options.datasetId must be a string or null; got 5'],
  ])('%j', (options, kind, message) => {
    expect(() => fitPca(good, options as never)).toThrow(new kind(message));
  });
});

describe('PcaAccumulator: bad input', () => {
  it('checks nFeatures, chunk shape and finiteness, and adds nothing of a bad chunk', () => {
    expect(() => new PcaAccumulator(0)).toThrow(new RangeError('nFeatures must be an integer in [1, 10000]; got 0'));
    const acc = new PcaAccumulator(4);
    expect(() => acc.push(matrix(2, 3, () => 1))).toThrow(new RangeError('chunk.cols must equal nFeatures = 4; got 3'));
    acc.push({ rows: 10, cols: 4, data: good.data.subarray(0, 40) });
    const bad = matrix(5, 4, () => 1);
    bad.data[3 * 4 + 1] = Infinity;
    expect(() => acc.push(bad)).toThrow(new RangeError('chunk.data values must be finite; row 3, column 1 is Infinity'));
    expect(acc.rows).toBe(10);
  });

  it('rolls back a chunk whose bad value comes after whole blocks were already folded in', () => {
    // 700 buffered rows, then a chunk that fills and flushes the buffer, folds more whole blocks
    // and only then meets a NaN: the accumulator must be exactly as before the chunk.
    const rows = matrix(5000, 4, (i, j) => Math.sin(i * 0.013 + j) * (j + 2) + (i % 7) * 0.1);
    const head = { rows: 700, cols: 4, data: rows.data.subarray(0, 700 * 4) };
    const tail = { rows: 4300, cols: 4, data: rows.data.subarray(700 * 4) };
    const poisoned = { rows: 4300, cols: 4, data: Float64Array.from(tail.data) };
    poisoned.data[4000 * 4 + 2] = NaN;

    const acc = new PcaAccumulator(4);
    acc.push(head);
    expect(() => acc.push(poisoned)).toThrow(
      new RangeError('chunk.data values must be finite; row 4000, column 2 is NaN'),
    );
    expect(acc.rows).toBe(700);
    acc.push(tail);

    const straight = new PcaAccumulator(4);
    straight.push(rows);
    const r = robustStats(rows);
    const meta = { trainedAt: '2024-01-01T00:00:00.000Z' };
    expect(acc.finish(r, { nComponents: 2 }, meta).toJSON()).toEqual(
      straight.finish(r, { nComponents: 2 }, meta).toJSON(),
    );
  });

  it('checks the robust statistics and rejects the empirical SPE rule', () => {
    const acc = new PcaAccumulator(4);
    acc.push(good);
    const r = robustStats(good);
    expect(() => acc.finish({ ...r, mad: new Float64Array(3) })).toThrow(
      new RangeError('robust.mad.length must equal nFeatures = 4; got 3'),
    );
    expect(() => acc.finish({ ...r, median: Float64Array.of(1, NaN, 1, 1) })).toThrow(
      new RangeError('robust.median[1] must be finite; got NaN'),
    );
    expect(() => acc.finish({ ...r, mad: Float64Array.of(1, -1, 1, 1) })).toThrow(
      new RangeError('robust.mad[1] must be finite and >= 0; got -1'),
    );
    expect(() => acc.finish(r, { speLimit: { method: 'empirical', quantile: 0.99 } })).toThrow(/withEmpiricalSpeLimit/);
    expect(acc.finish(r, { nComponents: 2 }).nComponents).toBe(2);
  });
});

describe('scoreBatch: bad input and invalid records', () => {
  it('checks the model, the matrix and the output buffers', () => {
    expect(() => scoreBatch({} as never, good)).toThrow(new TypeError('model must be a PcaModel; got object'));
    expect(() => scoreBatch(model, matrix(2, 3, () => 1))).toThrow(new RangeError('m.cols must equal model.nFeatures = 4; got 3'));
    expect(() => scoreBatch(model, { rows: 2, cols: 4, data: new Float64Array(7) })).toThrow(
      new RangeError('m.data.length must equal rows × cols = 8; got 7'),
    );
    const short = allocateScoreOutput(1, 4);
    expect(() => scoreBatch(model, matrix(2, 4, () => 1), { out: short })).toThrow(
      new RangeError('options.out.fused.length must be >= 2; got 1'),
    );
    const noContrib = allocateScoreOutput(2, 4);
    expect(() => scoreBatch(model, matrix(2, 4, () => 1), { out: noContrib, contributions: true })).toThrow(
      new TypeError('options.out.contributions must be a Float64Array; got undefined'),
    );
    const wrongType = { ...allocateScoreOutput(2, 4), topMetric: new Float64Array(2) } as never;
    expect(() => scoreBatch(model, matrix(2, 4, () => 1), { out: wrongType })).toThrow(
      new TypeError('options.out.topMetric must be a Int32Array; got a Float64Array'),
    );
  });

  it('zero rows score to an empty result', () => {
    const out = scoreBatch(model, { rows: 0, cols: 4, data: new Float64Array(0) });
    expect(out.rows).toBe(0);
    expect(out.invalidCount).toBe(0);
  });

  it('a record with NaN or ±Infinity is invalid: NaN scores, not anomalous, top metric −1, counted', () => {
    const m = matrix(5, 4, (i, j) => good.data[i * 4 + j]!);
    m.data[1 * 4 + 2] = NaN;
    m.data[3 * 4 + 0] = Infinity;
    m.data[4 * 4 + 3] = -Infinity;
    const out = scoreBatch(model, m, { contributions: true });
    expect(out.invalidCount).toBe(3);
    for (const i of [1, 3, 4]) {
      expect(out.fused[i]).toBeNaN();
      expect(out.spe[i]).toBeNaN();
      expect(out.t2[i]).toBeNaN();
      expect(out.zMax[i]).toBeNaN();
      expect(out.topMetric[i]).toBe(-1);
      expect(out.anomalous[i]).toBe(0);
      expect(Array.from(out.contributions!.subarray(i * 4, i * 4 + 4)).every(Number.isNaN)).toBe(true);
    }
    expect(Number.isFinite(out.fused[0]!)).toBe(true);
    expect(Number.isFinite(out.fused[2]!)).toBe(true);
  });

  it('finite values too large for the arithmetic score as extreme, not invalid', () => {
    const out = scoreBatch(model, { rows: 1, cols: 4, data: Float64Array.of(1e308, -1e308, 1e308, 0) });
    expect(out.invalidCount).toBe(0);
    expect(out.fused[0]).toBe(Infinity);
    expect(out.anomalous[0]).toBe(1);
  });
});

describe('the addon re-checks its arguments itself', () => {
  const opts = { variance: 0.95, nComponents: 0, alpha: 0.001, zLimit: 6, speRule: 'jackson_mudholkar' as const, speQuantile: 0 };
  it('fit', () => {
    expect(() => native.fit(new Float64Array(4), 2, 3, opts)).toThrow(new RangeError('data.length must equal rows * cols = 6; got 4'));
    expect(() => native.fit([1, 2] as never, 1, 2, opts)).toThrow(new TypeError('data must be a Float64Array'));
    expect(() => native.fit(new Float64Array(4), 2, 2, { ...opts, alpha: NaN })).toThrow(new RangeError('options.alpha must be finite'));
    expect(() => native.fit(new Float64Array(4), 2, 2, { ...opts, speRule: 'x' as never })).toThrow(RangeError);
    expect(() => native.fit(new Float64Array(4), 2, 2, undefined as never)).toThrow(new TypeError('options must be an object'));
    expect(() => native.fit(new Float64Array(4), -1, 2, opts)).toThrow(RangeError);
  });

  it('Scorer construction and score', () => {
    expect(() => new native.Scorer({} as never)).toThrow(TypeError);
    const init = {
      nFeatures: 2,
      nComponents: 1,
      mean: new Float64Array(2),
      scale: Float64Array.of(1, 1),
      components: Float64Array.of(1, 0),
      eigenvalues: Float64Array.of(1, 0),
      median: new Float64Array(2),
      zScale: Float64Array.of(1, 1),
      speLimit: 1,
      zLimit: 6,
    };
    expect(() => new native.Scorer({ ...init, scale: Float64Array.of(1, 0) })).toThrow(new RangeError('model.scale[1] must be finite and > 0'));
    expect(() => new native.Scorer({ ...init, mean: new Float64Array(3) })).toThrow(new RangeError('model.mean.length must be 2; got 3'));
    expect(() => new native.Scorer({ ...init, nComponents: 2 })).toThrow(RangeError);
    expect(() => new native.Scorer({ ...init, speLimit: 0 })).toThrow(new RangeError('model.spe_limit must be finite and > 0'));
    const s = new native.Scorer(init);
    const f = new Float64Array(1);
    const i32 = new Int32Array(1);
    const u8 = new Uint8Array(1);
    expect(() => s.score(new Float64Array(4), 2, f, f, f, f, i32, u8, null)).toThrow(new RangeError('out.fused.length must be >= 2; got 1'));
    expect(() => s.score(new Float64Array(3), 1, f, f, f, f, i32, u8, null)).toThrow(RangeError);
    expect(() => s.score(new Float64Array(2), 1, f, f, f, f, f as never, u8, null)).toThrow(new TypeError('out.topMetric must be an Int32Array'));
    expect(() => s.score(new Float64Array(2), 1, f, f, f, f, i32, u8, new Float64Array(1))).toThrow(RangeError);
    expect(s.score(Float64Array.of(3, 4), 1, f, f, f, f, i32, u8, null)).toBe(0);
    expect(f[0]).toBeGreaterThan(0);
  });

  it('a detached input buffer is rejected, not read', () => {
    const data = new Float64Array(8);
    structuredClone(data.buffer, { transfer: [data.buffer] });
    expect(() => scoreBatch(model, { rows: 2, cols: 4, data })).toThrow(RangeError);
  });
});
