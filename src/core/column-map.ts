/**
 * The column map: how a source's columns (a matrix read from storage or a live batch, named by
 * its column list) line up with a model's metrics, matched by name and checked once per model
 * and source. A scorer builds it once, then reorders each batch through it; where the orders
 * already agree (the common case) it is the identity and a batch passes through untouched.
 * Records keyed by metric name (`POST /inference`) go into the model's order by name
 * ({@link recordsToMatrix}).
 */
import { ConflictError } from './errors.js';
import type { Matrix } from './types.js';

/** A checked mapping of source columns onto a model's metrics. */
export interface ColumnMap {
  /** The model's metric names, in model column order. */
  readonly model: readonly string[];
  /** The source's column names, in source column order. */
  readonly source: readonly string[];
  /** For each model column j, the source column that feeds it. */
  readonly sourceColumn: Int32Array;
  /** True when the source is exactly the model's metrics in the model's order. */
  readonly identity: boolean;
}

/**
 * Maps a source's columns onto a model's metrics by name. Source columns the model does not use
 * are ignored.
 *
 * @param model - the model's metric names, in model column order (unique)
 * @param source - the source's column names, in source column order (unique)
 * @returns the map; `identity` when the two lists are equal
 * @throws ConflictError naming every model metric the source lacks
 * @example
 * const map = columnMap(['a', 'b'], ['b', 'x', 'a']);
 * map.sourceColumn; // Int32Array [2, 0]
 */
export function columnMap(model: readonly string[], source: readonly string[]): ColumnMap {
  const at = new Map<string, number>();
  source.forEach((name, j) => at.set(name, j));
  const sourceColumn = new Int32Array(model.length);
  const missing: string[] = [];
  model.forEach((name, j) => {
    const k = at.get(name);
    if (k === undefined) missing.push(name);
    else sourceColumn[j] = k;
  });
  if (missing.length > 0) {
    throw new ConflictError(
      `the source lacks ${missing.length === 1 ? 'the model metric' : 'the model metrics'} ` +
        `${missing.join(', ')} (it has ${source.join(', ')})`,
      { missing, source: [...source] },
    );
  }
  const identity = model.length === source.length && sourceColumn.every((k, j) => k === j);
  return { model, source, sourceColumn, identity };
}

/**
 * A source matrix in the model's column order: the matrix itself when the map is the identity,
 * else its columns gathered into `out` (or a new buffer).
 *
 * @param map - from {@link columnMap}
 * @param matrix - shape (rows, map.source.length)
 * @param out - optional buffer of at least rows × map.model.length doubles, reused across calls
 * @returns a matrix of shape (rows, map.model.length); its data is `out` when given, trimmed to
 *   rows × cols
 * @throws RangeError when the matrix does not have the source's column count, or `out` is short
 */
export function toModelColumns(map: ColumnMap, matrix: Matrix, out?: Float64Array): Matrix {
  if (matrix.cols !== map.source.length) {
    throw new RangeError(`matrix.cols must be the source's ${map.source.length} columns; got ${matrix.cols}`);
  }
  if (map.identity) return matrix;
  const { rows, cols: from } = matrix;
  const cols = map.model.length;
  const n = rows * cols;
  if (out !== undefined && out.length < n) {
    throw new RangeError(`out must hold at least rows × cols = ${n} values; got ${out.length}`);
  }
  const data = out === undefined ? new Float64Array(n) : out.length === n ? out : out.subarray(0, n);
  const src = matrix.data;
  const pick = map.sourceColumn;
  for (let i = 0; i < rows; i++) {
    const a = i * from;
    const b = i * cols;
    for (let j = 0; j < cols; j++) data[b + j] = src[a + pick[j]!]!;
  }
  return { rows, cols, data };
}

/** A record's metric values by name; a value missing, null or not finite makes it invalid. */
export type MetricValues = Readonly<Partial<Record<string, number | null | undefined>>>;

/**
 * Writes records into a row-major matrix in the given metric order. A value that is missing,
 * null, not a number or not finite is stored as NaN.
 *
 * @param records - the records, shape (rows); each an object of metric values by name
 * @param metrics - metric names in model order (d of them)
 * @param data - optional buffer to write into, at least rows × d long (reused by hot loops)
 * @returns the matrix (rows × d); its data is `data` when given, trimmed to rows × d
 * @throws RangeError when `data` is too short
 * @example
 * recordsToMatrix([{ cpu_usage: 12.5, memory_usage: null }], ['cpu_usage', 'memory_usage']);
 * // { rows: 1, cols: 2, data: Float64Array [12.5, NaN] }
 */
export function recordsToMatrix(
  records: readonly MetricValues[],
  metrics: readonly string[],
  data?: Float64Array,
): Matrix {
  const rows = records.length;
  const cols = metrics.length;
  const n = rows * cols;
  if (data !== undefined && data.length < n) {
    throw new RangeError(`data must hold at least rows × cols = ${n} values; got ${data.length}`);
  }
  const out = data === undefined ? new Float64Array(n) : data.length === n ? data : data.subarray(0, n);
  for (let i = 0; i < rows; i++) {
    const rec = records[i]!;
    const base = i * cols;
    for (let j = 0; j < cols; j++) {
      const v = rec[metrics[j]!];
      // NaN covers null, absent and non-numbers; non-finite numbers pass and are invalid natively.
      out[base + j] = typeof v === 'number' ? v : NaN;
    }
  }
  return { rows, cols, data: out };
}
