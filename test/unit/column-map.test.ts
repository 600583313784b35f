/**
 * The column map (src/core/column-map.ts): bad input first, then the identity fast path, a
 * reordered and a wider source, against the plain definition.
 */
import { describe, expect, it } from 'vitest';
import { columnMap, toModelColumns } from '../../src/core/column-map.js';
import { ConflictError } from '../../src/core/errors.js';

describe('columnMap', () => {
  it('names every model metric the source lacks', () => {
    expect(() => columnMap(['a', 'b', 'c'], ['a'])).toThrow(ConflictError);
    expect(() => columnMap(['a', 'b', 'c'], ['a'])).toThrow(
      'the source lacks the model metrics b, c (it has a)',
    );
    expect(() => columnMap(['a', 'z'], ['a', 'b'])).toThrow(
      'the source lacks the model metric z (it has a, b)',
    );
  });

  it('is the identity only for the same names in the same order', () => {
    expect(columnMap(['a', 'b'], ['a', 'b']).identity).toBe(true);
    expect(columnMap(['a', 'b'], ['b', 'a']).identity).toBe(false);
    expect(columnMap(['a', 'b'], ['a', 'b', 'c']).identity).toBe(false);
  });

  it('maps each model column to the source column of the same name', () => {
    expect([...columnMap(['a', 'b'], ['b', 'x', 'a']).sourceColumn]).toEqual([2, 0]);
  });
});

describe('toModelColumns', () => {
  it('refuses a matrix of another width, or a short buffer', () => {
    const map = columnMap(['a', 'b'], ['b', 'a']);
    expect(() => toModelColumns(map, { rows: 1, cols: 3, data: new Float64Array(3) })).toThrow(
      "matrix.cols must be the source's 2 columns; got 3",
    );
    expect(() =>
      toModelColumns(map, { rows: 2, cols: 2, data: new Float64Array(4) }, new Float64Array(3)),
    ).toThrow('out must hold at least rows × cols = 4 values; got 3');
  });

  it('passes the matrix through untouched under the identity', () => {
    const m = { rows: 2, cols: 2, data: Float64Array.of(1, 2, 3, 4) };
    expect(toModelColumns(columnMap(['a', 'b'], ['a', 'b']), m)).toBe(m);
  });

  it('gathers a reordered, wider source into the model order, NaN kept', () => {
    const source = ['c', 'b', 'x', 'a'];
    const data = Float64Array.of(3, 2, 9, 1, 30, NaN, 90, 10);
    const out = toModelColumns(
      columnMap(['a', 'b', 'c'], source),
      { rows: 2, cols: 4, data },
      new Float64Array(8),
    );
    expect(out.rows).toBe(2);
    expect(out.cols).toBe(3);
    expect([...out.data.subarray(0, 6)]).toEqual([1, 2, 3, 10, NaN, 30]);
  });

  it('trims a longer reused buffer to rows × cols (a last, short chunk), as a scorer takes it', () => {
    const map = columnMap(['a', 'b'], ['b', 'a']);
    const out = new Float64Array(6);
    const m = toModelColumns(map, { rows: 2, cols: 2, data: Float64Array.of(2, 1, 20, 10) }, out);
    expect(m.data.length).toBe(4);
    expect(m.data.buffer).toBe(out.buffer);
    expect([...m.data]).toEqual([1, 2, 10, 20]);
  });
});
