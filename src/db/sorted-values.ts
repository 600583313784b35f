/**
 * Storage of the sorted metric values (`dataset_stats_sorted`): one metric's values stored chunk
 * by chunk, a column's chunk index, and the chunks a question needs. The chunk codec and the
 * questions answered from the chunks are src/core/stats/sorted.ts.
 */
import {
  chunkLength,
  decodeSortedChunk,
  encodeSortedChunk,
  SORTED_CHUNK,
  type SortedColumn,
} from '../core/stats/sorted.js';
import type { Queryable } from './pool.js';

/** Chunk rows sent per INSERT (at most 1 MiB of values at the default chunk size). */
const ROWS_PER_INSERT = 32;

/**
 * Stores one metric's sorted values (inside the caller's transaction, after its `dataset_stats`
 * row), reading them chunk by chunk through `readChunk(start, out)` so that only one batch of
 * chunks is in memory.
 *
 * @param n - number of values
 * @param readChunk - fills `out` with the sorted values of ranks [start, start + out.length)
 */
export async function storeSortedColumn(
  q: Queryable,
  datasetId: string,
  metric: string,
  n: number,
  readChunk: (start: number, out: Float64Array) => void,
  chunk = SORTED_CHUNK,
): Promise<void> {
  const count = Math.ceil(n / chunk);
  for (let k0 = 0; k0 < count; k0 += ROWS_PER_INSERT) {
    const params: unknown[] = [datasetId, metric];
    const rows: string[] = [];
    for (let k = k0; k < Math.min(count, k0 + ROWS_PER_INSERT); k++) {
      const start = k * chunk;
      const values = new Float64Array(Math.min(chunk, n - start));
      readChunk(start, values);
      const at = params.push(k, start, values[0], values[values.length - 1], encodeSortedChunk(values));
      rows.push(`($1, $2, $${at - 4}, $${at - 3}, $${at - 2}::float8, $${at - 1}::float8, $${at})`);
    }
    await q.query(
      `INSERT INTO dataset_stats_sorted (dataset_id, metric, chunk, first_rank, first_value, last_value, data)
       VALUES ${rows.join(', ')}`,
      params,
    );
  }
}

/**
 * The chunk index of a stored sorted column (no values yet), or null when none is stored.
 *
 * @param n - the number of values the column holds (the dataset's rows)
 */
export async function loadSortedIndex(
  q: Queryable,
  datasetId: string,
  metric: string,
  n: number,
): Promise<SortedColumn | null> {
  const { rows } = await q.query<{ first_rank: string; first_value: number; last_value: number }>(
    `SELECT first_rank, first_value, last_value FROM dataset_stats_sorted
      WHERE dataset_id = $1 AND metric = $2 ORDER BY chunk`,
    [datasetId, metric],
  );
  if (rows.length === 0 && n > 0) return null;
  const col: SortedColumn = {
    n,
    starts: new Float64Array(rows.length),
    firsts: new Float64Array(rows.length),
    lasts: new Float64Array(rows.length),
    chunks: new Map(),
  };
  rows.forEach((r, k) => {
    col.starts[k] = Number(r.first_rank);
    col.firsts[k] = r.first_value;
    col.lasts[k] = r.last_value;
  });
  return col;
}

/** Reads the given chunks' values into `col` (one query). */
export async function loadSortedChunks(
  q: Queryable,
  datasetId: string,
  metric: string,
  col: SortedColumn,
  chunks: readonly number[],
): Promise<void> {
  if (chunks.length === 0) return;
  const { rows } = await q.query<{ chunk: number; data: Buffer }>(
    `SELECT chunk, data FROM dataset_stats_sorted WHERE dataset_id = $1 AND metric = $2 AND chunk = ANY($3::int[])`,
    [datasetId, metric, chunks],
  );
  for (const r of rows) {
    const values = decodeSortedChunk(r.data);
    if (values.length !== chunkLength(col, r.chunk))
      throw new Error(
        `chunk ${r.chunk} of ${metric}'s sorted values holds ${values.length} values, not ${chunkLength(col, r.chunk)}`,
      );
    col.chunks.set(r.chunk, values);
  }
  for (const k of chunks)
    if (!col.chunks.has(k)) throw new Error(`chunk ${k} of ${metric}'s sorted values is missing`);
}
