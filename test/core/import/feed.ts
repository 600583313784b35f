/** Feeding an import parser in chunks, and the whole of its output as plain arrays. */
import type { ImportBatch, ImportParser } from '../../../src/core/import/parser.js';

/** Everything a parser produced, batches joined. */
export interface Parsed {
  columns: ImportParser['columns'];
  rows: number;
  firstRows: number[];
  ts: number[];
  entity: string[];
  metrics: number[][];
  isAnomaly: number[] | null;
  anomalyType: (string | null)[] | null;
  labels: (string | null)[][];
}

/** Joins batches into plain arrays (metrics as one array per record). */
export function collect(parser: ImportParser, batches: ImportBatch[]): Parsed {
  const d = parser.columns?.metrics.length ?? 0;
  const out: Parsed = {
    columns: parser.columns,
    rows: parser.rows,
    firstRows: [],
    ts: [],
    entity: [],
    metrics: [],
    isAnomaly: parser.columns?.hasLabel ? [] : null,
    anomalyType: parser.columns?.hasAnomalyType ? [] : null,
    labels: (parser.columns?.labels ?? []).map(() => []),
  };
  for (const b of batches) {
    out.firstRows.push(b.firstRow);
    out.ts.push(...b.ts);
    out.entity.push(...b.entity);
    for (let r = 0; r < b.rows; r++) out.metrics.push([...b.metrics.subarray(r * d, (r + 1) * d)]);
    if (out.isAnomaly) out.isAnomaly.push(...b.isAnomaly!);
    if (out.anomalyType) out.anomalyType.push(...b.anomalyType!);
    b.labels.forEach((l, k) => out.labels[k]!.push(...l));
  }
  return out;
}

/** Pushes `bytes` in chunks of `size` bytes (the whole at once when size is 0), then ends. */
export function feed(parser: ImportParser, bytes: Uint8Array | string, size = 0): Parsed {
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  const batches: ImportBatch[] = [];
  const step = size === 0 ? Math.max(1, data.length) : size;
  for (let p = 0; p < data.length; p += step) {
    // A fresh copy each time, overwritten after the push: the parser must not keep chunks.
    const chunk = Buffer.from(data.subarray(p, Math.min(data.length, p + step)));
    batches.push(...parser.push(chunk));
    chunk.fill(0x7e);
  }
  batches.push(...parser.end());
  return collect(parser, batches);
}

/** The error a parse throws (fails the test when it throws none). */
export function parseError(make: () => ImportParser, bytes: Uint8Array | string, size = 0): Error {
  try {
    feed(make(), bytes, size);
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the parse to fail');
}
