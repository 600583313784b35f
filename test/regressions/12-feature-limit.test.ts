import { describe, expect, it } from 'vitest';
import { allocateScoreOutput, PcaAccumulator, PcaModel, type ModelJson } from '../../src/index.js';
import { native } from '../../src/native/binding.js';

describe('fault 12: at most 10,000 metrics, refused before anything is allocated', () => {
  it('the typed library names the limit', () => {
    expect(native.maxFeatures).toBe(10_000);
    expect(() => new PcaAccumulator(2 ** 20)).toThrow(
      new RangeError('nFeatures must be an integer in [1, 10000]; got 1048576'),
    );
    expect(() => new PcaAccumulator(10_001)).toThrow(RangeError);
    expect(() => allocateScoreOutput(1, 10_001)).toThrow(
      new RangeError('nFeatures must be an integer in [1, 10000]; got 10001'),
    );
  });

  it('the raw addon refuses it too', () => {
    expect(() => new native.Accumulator(2 ** 20)).toThrow(
      new RangeError('nFeatures must be an integer in [1, 10000]; got 1048576'),
    );
    const opts = {
      variance: 0.95,
      nComponents: 0,
      alpha: 0.001,
      zLimit: 6,
      speRule: 'jackson_mudholkar' as const,
      speQuantile: 0,
    };
    expect(() => native.fit(new Float64Array(2 ** 20), 1, 2 ** 20, opts)).toThrow(RangeError);
    expect(() => native.fit(new Float64Array(4), 2, 2, { ...opts, nComponents: 2 ** 20 })).toThrow(
      RangeError,
    );
  });

  it('a model.json of more metrics is refused before its arrays are read', () => {
    const d = 10_001;
    const json = { metrics: Array.from({ length: d }, (_, j) => `m${j}`) } as ModelJson;
    expect(() => new PcaModel(json)).toThrow(
      new RangeError('model.metrics must hold at most 10000 names; got 10001'),
    );
  });

  it('d = 10,000 itself works: an accumulator takes rows of it', () => {
    const d = 10_000;
    const acc = new PcaAccumulator(d);
    acc.push({ rows: 2, cols: d, data: new Float64Array(2 * d).map((_, i) => Math.sin(i)) });
    expect(acc.rows).toBe(2);
  });
});
