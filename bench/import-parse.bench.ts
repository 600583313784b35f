/**
 * The import parser (src/core/import) alone, without a database: 1,000,000 rows
 * (TADS_BENCH_SCALE=small: 100,000) fed in 64 KiB chunks as a request body or file stream
 * would bring them, in MB/s and rows/s, best of three runs. Inputs: SMD-shaped rows (d = 38,
 * values in [0, 1] with six decimals, as SMD writes them) as CSV (RFC 3339 time, entity) and
 * in SMD's own layout; the generator's rows (d = 8, doubles written in full, as the ingest
 * bench's CSV for psql holds them). Beside each, the obvious reading — split the text into
 * lines and cells, `Number()` each — for scale.
 */
import { StringDecoder } from 'node:string_decoder';
import { CsvParser } from '../src/core/import/csv.js';
import type { ImportParser } from '../src/core/import/parser.js';
import { SmdParser } from '../src/core/import/smd.js';
import { generateTelemetry } from '../src/core/generator.js';
import { Random } from '../src/core/random.js';
import { ANOMALY_TYPES, METRICS } from '../src/core/types.js';
import { heading, table } from './lib/harness.js';

const small = process.env.TADS_BENCH_SCALE === 'small';
const ROWS = small ? 100_000 : 1_000_000;
const CHUNK = 64 * 1024;
const RUNS = 3;

/** Text lines to 64 KiB chunks. */
function chunked(lines: Iterable<string>): Buffer[] {
  const chunks: Buffer[] = [];
  let pending: string[] = [];
  let size = 0;
  const cut = (final: boolean) => {
    const all = Buffer.from(pending.join(''));
    let p = 0;
    for (; p + CHUNK <= all.length || (final && p < all.length); p += CHUNK) {
      chunks.push(all.subarray(p, Math.min(all.length, p + CHUNK)));
    }
    pending = p < all.length ? [all.subarray(p).toString('latin1')] : [];
    size = all.length - p;
  };
  for (const l of lines) {
    pending.push(l);
    size += l.length;
    if (size >= 4 * 1024 * 1024) cut(false);
  }
  cut(true);
  return chunks;
}

/** SMD-shaped rows: 38 values in [0, 1] with six decimals, a few columns always 0. */
function* smdRows(withTime: boolean): Generator<string> {
  const rng = Random.fromSeed(38);
  if (withTime)
    yield `timestamp,host,${Array.from({ length: 38 }, (_, j) => `m${String(j + 1).padStart(2, '0')}`).join(',')}\n`;
  const t0 = Date.UTC(2024, 0, 1);
  const cells = new Array<string>(38);
  for (let i = 0; i < ROWS; i++) {
    for (let j = 0; j < 38; j++) cells[j] = j % 8 === 7 ? '0.000000' : rng.nextFloat().toFixed(6);
    const row = cells.join(',');
    yield withTime ? `${new Date(t0 + i * 60_000).toISOString()},machine-${i % 4},${row}\n` : `${row}\n`;
  }
}

/** The generator's rows as CSV: time, host, project, region, 8 metrics in full, labels. */
function* generatorRows(): Generator<string> {
  yield `timestamp,host_id,project_id,region,${METRICS.join(',')},is_anomaly,anomaly_type\n`;
  const data = generateTelemetry({ seed: 1, hostCount: 1000, intervalS: 60, durationS: (ROWS / 1000) * 60 });
  for (const c of data.chunks()) {
    for (let i = 0; i < c.length; i++) {
      const h = data.hosts[c.host[i]!]!;
      const m = Array.from(c.metrics.subarray(i * 8, i * 8 + 8), String).join(',');
      const t = c.anomalyType[i]!;
      yield `${new Date(c.ts[i]!).toISOString()},${h.hostId},${h.projectId},${h.region},${m},${c.isAnomaly[i]},${t < 0 ? '' : ANOMALY_TYPES[t]}\n`;
    }
  }
}

/** Best of RUNS parses of the chunks, in seconds; checks the row count. */
function timeParser(chunks: Buffer[], make: () => ImportParser): number {
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const parser = make();
    const t = performance.now();
    for (const c of chunks) parser.push(c);
    parser.end();
    best = Math.min(best, (performance.now() - t) / 1000);
    if (parser.rows !== ROWS) throw new Error(`parsed ${parser.rows} rows; expected ${ROWS}`);
  }
  return best;
}

/** Best of RUNS of the obvious reading: lines, cells, Number() of the `d` metric cells from `first`. */
function timeSplit(chunks: Buffer[], first: number, d: number, header: boolean): number {
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    const decoder = new StringDecoder('utf8');
    let rest = '';
    let rows = header ? -1 : 0;
    let sum = 0;
    const take = (line: string) => {
      if (rows++ < 0) return;
      const cells = line.split(',');
      for (let j = first; j < first + d; j++) sum += Number(cells[j]);
    };
    for (const c of chunks) {
      const lines = (rest + decoder.write(c)).split('\n');
      rest = lines.pop()!;
      lines.forEach(take);
    }
    if (rest !== '') take(rest);
    best = Math.min(best, (performance.now() - t) / 1000);
    if (rows !== ROWS || !Number.isFinite(sum)) throw new Error(`split read ${rows} rows`);
  }
  return best;
}

heading(`Import parser (${ROWS.toLocaleString('en-US')} rows in 64 KiB chunks, best of ${RUNS})`);
const results: Record<string, string | number>[] = [];
const inputs: {
  name: string;
  lines: () => Iterable<string>;
  make: () => ImportParser;
  first: number;
  d: number;
  header: boolean;
}[] = [
  {
    name: 'CSV, SMD-shaped (d = 38)',
    lines: () => smdRows(true),
    make: () => new CsvParser({ entity: 'host' }),
    first: 2,
    d: 38,
    header: true,
  },
  {
    name: 'SMD layout (d = 38)',
    lines: () => smdRows(false),
    make: () => new SmdParser({ start: 0, intervalS: 60, entityName: 'machine-2-1' }),
    first: 0,
    d: 38,
    header: false,
  },
  {
    name: 'CSV, generator rows (d = 8, 2 labels)',
    lines: generatorRows,
    make: () =>
      new CsvParser({
        entity: 'host_id',
        label: 'is_anomaly',
        anomalyType: 'anomaly_type',
        labels: ['project_id', 'region'],
      }),
    first: 4,
    d: 8,
    header: true,
  },
];
for (const input of inputs) {
  const chunks = chunked(input.lines());
  const mb = chunks.reduce((a, c) => a + c.length, 0) / 1e6;
  const parse = timeParser(chunks, input.make);
  const split = timeSplit(chunks, input.first, input.d, input.header);
  results.push({
    input: input.name,
    MB: mb,
    'parser MB/s': mb / parse,
    'parser rows/s': ROWS / parse,
    'split + Number() MB/s': mb / split,
    'parser ÷ split': split / parse,
  });
}
table(results);
