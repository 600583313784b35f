/**
 * What the import parsers produce and how they are fed: batches of records as columns, ready to
 * be COPYed, from Buffer chunks cut anywhere; the conversion of a record's cells into a batch row,
 * shared by the CSV and SMD layouts.
 */
import { ImportError } from '../errors.js';
import {
  epochToMs,
  Interner,
  isUtf8Range,
  latin1,
  looksNumeric,
  MAX_TIME_MS,
  MIN_TIME_MS,
  NumberScanner,
  parseNumberText,
  parseRfc3339,
  showCell,
  utf8,
} from './cells.js';
import { MAX_METRICS } from '../../contract/vocabulary.js';
import { RecordSplitter } from './records.js';

/** The columns an import declares, known once the header (CSV) or first row (SMD) is read. */
export interface ImportColumns {
  /** Metric names, in column order (1 – 1,024). */
  metrics: string[];
  /** Text label names, in the order of the `labels` option (0 – 16). */
  labels: string[];
  /** Whether records carry a 0/1 anomaly label (`isAnomaly` is set). */
  hasLabel: boolean;
  /** Whether records carry an anomaly type (`anomalyType` is set). */
  hasAnomalyType: boolean;
}

/**
 * A batch of parsed records, as columns. Arrays are the batch's own (nothing refers to the
 * pushed chunks).
 */
export interface ImportBatch {
  /** 0-based index of the batch's first record in the file (its `row_id`). */
  firstRow: number;
  /** Records in the batch. */
  rows: number;
  /** Time of each record, ms since the Unix epoch (rounded to the microsecond). */
  ts: Float64Array;
  /** Entity (`host_id`) of each record. */
  entity: string[];
  /** Metric values, row-major `rows × metrics.length`; NaN for a missing value. */
  metrics: Float64Array;
  /** The 0/1 anomaly label of each record, or null when the import has no label column. */
  isAnomaly: Uint8Array | null;
  /** The anomaly type of each record (null for an empty cell), or null when there is no column. */
  anomalyType: (string | null)[] | null;
  /** One array per text label (in {@link ImportColumns.labels} order): each record's value, or null. */
  labels: (string | null)[][];
}

/** An incremental parser: fed chunks as they arrive, it returns the batches completed so far. */
export interface ImportParser {
  /**
   * Feeds one chunk (cut anywhere: inside a quoted field, a UTF-8 character or a CRLF). The
   * chunk is not kept after the call, so a caller may reuse its memory.
   *
   * @returns the batches completed by this chunk (often none)
   * @throws ImportError naming the line and column of the first fault; the parser then refuses
   *   every further call with the same error
   */
  push(chunk: Uint8Array): ImportBatch[];
  /**
   * Ends the input.
   *
   * @returns the last batches (the final one may be partly filled)
   * @throws ImportError for a fault in the last record, or an input with no header (CSV) or no
   *   record at all (SMD)
   */
  end(): ImportBatch[];
  /** The declared columns, null until the header (CSV) or first row (SMD) has been read. */
  readonly columns: ImportColumns | null;
  /** Records parsed so far. */
  readonly rows: number;
  /** Bytes pushed so far. */
  readonly bytes: number;
}

/** Whether an error came from zlib (a truncated or corrupt gzip stream). */
function isZlibError(err: unknown): err is Error & { code: string } {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/**
 * Streams a source of chunks (a request body, a file stream, a `zlib.createGunzip()` after
 * either) through a parser, yielding each batch as it completes, so no more than a batch and a
 * line are held at a time.
 *
 * @param source - the chunks (Buffers or Uint8Arrays)
 * @param parser - a {@link CsvParser}, {@link SmdParser} or any {@link ImportParser}
 * @throws ImportError for bad content; a zlib failure of the source (a truncated or corrupt gzip
 *   stream) becomes an ImportError naming the line reached
 */
export async function* parseImport(
  source: AsyncIterable<Uint8Array>,
  parser: ImportParser,
): AsyncGenerator<ImportBatch, void, undefined> {
  try {
    for await (const chunk of source) yield* parser.push(chunk);
  } catch (err) {
    if (!isZlibError(err)) throw err;
    throw new ImportError(
      `the body is not a complete gzip stream (${err.message}) after ${parser.bytes.toLocaleString('en-US')} bytes of data, ${parser.rows.toLocaleString('en-US')} records`,
      {},
      'body',
      { cause: err },
    );
  }
  yield* parser.end();
}

/** What a column holds. */
export const ColumnKind = { Metric: 0, Time: 1, Entity: 2, Label: 3, AnomalyType: 4, Text: 5 } as const;
export type ColumnKind = (typeof ColumnKind)[keyof typeof ColumnKind];

const COMMA = 0x2c;
const QUOTE = 0x22;

/** Rows per batch: about 4 MB of metric values, between 256 and 65,536 rows. */
export function defaultBatchRows(d: number): number {
  return Math.min(65_536, Math.max(256, Math.floor(524_288 / d)));
}

/** A 0/1 cell (spaces around it allowed): 0, 1, or -1 for anything else. */
export function flag(data: Buffer, s: number, e: number): number {
  while (s < e && (data[s] === 0x20 || data[s] === 0x09)) s++;
  while (e > s && (data[e - 1] === 0x20 || data[e - 1] === 0x09)) e--;
  if (e - s !== 1) return -1;
  const b = data[s];
  return b === 0x30 ? 0 : b === 0x31 ? 1 : -1;
}

/** Where an entity byte is allowed (letters, digits, `. _ : -`). */
const ENTITY_BYTE = new Uint8Array(256);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-')
  ENTITY_BYTE[c.charCodeAt(0)] = 1;

/**
 * The conversion of records into batches, shared by the layouts: a subclass reads the header (or
 * first row) and calls {@link declare}; every later record's cells are read by kind.
 */
export abstract class TelemetryParser extends RecordSplitter implements ImportParser {
  columns: ImportColumns | null = null;
  rows = 0;
  /** Each column's name, kind and index among its kind (metric index, text label index). */
  protected names: string[] = [];
  protected kinds = new Uint8Array(0);
  protected index = new Int32Array(0);
  protected timeUnit: 's' | 'ms' | undefined;
  /** The one entity of an import without an entity column. */
  protected fixedEntity: string | null = null;
  private hasTimeColumn = false;
  private batchRows: number | undefined;
  private out: ImportBatch[] = [];
  private batch: ImportBatch | null = null;
  private n = 0;
  private d = 0;
  private readonly scanner = new NumberScanner();
  private fieldStart = new Int32Array(0);
  private fieldEnd = new Int32Array(0);
  private fieldEscaped = new Uint8Array(0);
  /** Strings of repeated cells, one table per column that holds text. */
  private interners: (Interner | null)[] = [];

  /** @param batchRows - records per batch (default: about 4 MB of metric values) */
  protected constructor(batchRows: number | undefined) {
    super();
    this.batchRows = batchRows;
  }

  push(chunk: Uint8Array): ImportBatch[] {
    this.guard(() => this.split(chunk));
    return this.drain();
  }

  end(): ImportBatch[] {
    this.guard(() => {
      this.finish();
      this.finished();
      this.flush();
    });
    return this.drain();
  }

  /** Called once the input has ended (before the last batch is flushed). */
  protected abstract finished(): void;

  /** Time of a record whose layout has no time column (SMD); unused otherwise. */
  protected abstract rowTime(row: number): number;

  private drain(): ImportBatch[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  /** Fixes the columns: each column's name, kind and index; the declared names. */
  protected declare(names: string[], kinds: ColumnKind[], columns: ImportColumns): void {
    this.names = names;
    this.kinds = Uint8Array.from(kinds);
    this.index = new Int32Array(kinds.length);
    const seen = new Map<ColumnKind, number>();
    kinds.forEach((k, c) => {
      const i = seen.get(k) ?? 0;
      // A text label's index is its place among the declared labels, the rest count in order.
      this.index[c] = k === ColumnKind.Text ? columns.labels.indexOf(names[c]!) : i;
      seen.set(k, i + 1);
    });
    this.hasTimeColumn = kinds.includes(ColumnKind.Time);
    this.interners = kinds.map((k) =>
      k === ColumnKind.Entity || k === ColumnKind.AnomalyType || k === ColumnKind.Text
        ? new Interner()
        : null,
    );
    this.columns = columns;
    this.d = columns.metrics.length;
    this.batchRows ??= defaultBatchRows(this.d);
    this.fieldStart = new Int32Array(kinds.length);
    this.fieldEnd = new Int32Array(kinds.length);
    this.fieldEscaped = new Uint8Array(kinds.length);
  }

  /** The batch being filled, started when needed. */
  private open(): ImportBatch {
    if (this.batch !== null) return this.batch;
    const cols = this.columns!;
    const rows = this.batchRows!;
    this.batch = {
      firstRow: this.rows,
      rows: 0,
      ts: new Float64Array(rows),
      entity: new Array<string>(rows),
      metrics: new Float64Array(rows * this.d),
      isAnomaly: cols.hasLabel ? new Uint8Array(rows) : null,
      anomalyType: cols.hasAnomalyType ? new Array<string | null>(rows) : null,
      labels: cols.labels.map(() => new Array<string | null>(rows)),
    };
    this.n = 0;
    return this.batch;
  }

  /** Hands the batch on, cut to its rows. */
  private flush(): void {
    const b = this.batch;
    if (b === null || this.n === 0) return;
    const n = this.n;
    b.rows = n;
    if (n < b.ts.length) {
      b.ts = b.ts.subarray(0, n);
      b.metrics = b.metrics.subarray(0, n * this.d);
      b.entity.length = n;
      if (b.isAnomaly) b.isAnomaly = b.isAnomaly.subarray(0, n);
      if (b.anomalyType) b.anomalyType.length = n;
      for (const l of b.labels) l.length = n;
    }
    this.out.push(b);
    this.batch = null;
    this.n = 0;
  }

  /** Where a cell is, for an error message: `line 5, column 3 (cpu)`. */
  protected where(line: number, c: number): string {
    const name = this.names[c];
    return `line ${line}, column ${c + 1}${name === undefined ? '' : ` (${name})`}`;
  }

  protected fault(line: number, c: number, what: string): ImportError {
    return new ImportError(`${this.where(line, c)}: ${what}`, {
      line,
      column: c + 1,
      columnName: this.names[c] ?? null,
    });
  }

  /** The fault of a cell that is not what it should be: named, or "not UTF-8". */
  private badCell(line: number, c: number, data: Buffer, s: number, e: number, what: string): ImportError {
    const shown = showCell(data, s, e);
    return this.fault(line, c, shown === null ? 'not UTF-8' : `${what}; got ${shown}`);
  }

  /** A record's fields were not as many as the columns. */
  private ragged(line: number, fields: number): ImportError {
    const cols = this.kinds.length;
    const basis = this.columnsBasis();
    if (fields < cols) {
      return this.fault(
        line,
        fields,
        `missing: the line has ${fields} field${fields === 1 ? '' : 's'}, ${basis} ${cols}`,
      );
    }
    return new ImportError(
      `line ${line}, column ${cols + 1}: one field too many: the line has ${fields} fields, ${basis} ${cols}`,
      { line, column: cols + 1 },
    );
  }

  /** How a ragged-row message names the expected count (`the header has`, `line 1 has`). */
  protected abstract columnsBasis(): string;

  /**
   * Splits a record into fields with RFC 4180 quoting into the field arrays (as many as there
   * are columns; more are counted only).
   *
   * @returns the number of fields
   */
  protected fields(data: Buffer, s: number, e: number, line: number): number {
    let f = 0;
    let p = s;
    for (;;) {
      let fs: number;
      let fe: number;
      let escaped = 0;
      if (p < e && data[p] === QUOTE) {
        fs = p + 1;
        let q = fs;
        for (;;) {
          q = data.indexOf(QUOTE, q);
          if (q < 0 || q >= e) {
            throw new ImportError(`line ${line}, column ${f + 1}: a quoted field is not closed`, {
              line,
              column: f + 1,
            });
          }
          if (q + 1 < e && data[q + 1] === QUOTE) {
            escaped = 1;
            q += 2;
            continue;
          }
          break;
        }
        fe = q;
        p = q + 1;
        if (p < e && data[p] !== COMMA) {
          throw this.fault(line, f, 'a closing quote must be followed by a comma or the end of the line');
        }
      } else {
        fs = p;
        while (p < e && data[p] !== COMMA) {
          if (data[p] === QUOTE) {
            throw this.fault(
              line,
              f,
              'a quote inside an unquoted field (quote the field and double the quote)',
            );
          }
          p++;
        }
        fe = p;
      }
      if (f >= this.fieldStart.length && this.columns === null) this.growFields(f + 1);
      if (f < this.fieldStart.length) {
        this.fieldStart[f] = fs;
        this.fieldEnd[f] = fe;
        this.fieldEscaped[f] = escaped;
      }
      f++;
      if (p >= e) return f;
      p++;
    }
  }

  /** Room for at least `n` fields (while the header or first row is read). */
  private growFields(n: number): void {
    const size = Math.max(n, 2 * this.fieldStart.length, 64);
    const start = new Int32Array(size);
    const end = new Int32Array(size);
    const escaped = new Uint8Array(size);
    start.set(this.fieldStart);
    end.set(this.fieldEnd);
    escaped.set(this.fieldEscaped);
    this.fieldStart = start;
    this.fieldEnd = end;
    this.fieldEscaped = escaped;
  }

  /** The text of field `f` of the last {@link fields} call (undoing doubled quotes). */
  protected fieldText(data: Buffer, f: number, line: number): string {
    const s = this.fieldStart[f]!;
    const e = this.fieldEnd[f]!;
    if (!isUtf8Range(data, s, e)) throw this.fault(line, f, 'not UTF-8');
    const text = utf8(data, s, e);
    if (text.includes('\0')) throw this.fault(line, f, 'a NUL character is not allowed in text');
    return this.fieldEscaped[f] === 1 ? text.replaceAll('""', '"') : text;
  }

  /** One data record: its cells into the batch's next row. */
  protected dataRecord(data: Buffer, s: number, e: number, quoted: boolean, line: number): void {
    const b = this.open();
    const row = this.n;
    const cols = this.kinds.length;
    const off = row * this.d;
    if (quoted) {
      const count = this.fields(data, s, e, line);
      if (count !== cols) throw this.ragged(line, count);
      for (let c = 0; c < cols; c++) {
        if (
          this.fieldEscaped[c] === 1 &&
          this.kinds[c] !== ColumnKind.AnomalyType &&
          this.kinds[c] !== ColumnKind.Text
        ) {
          throw this.badCell(
            line,
            c,
            data,
            this.fieldStart[c]!,
            this.fieldEnd[c]!,
            'a quote is not allowed here',
          );
        }
        this.cell(b, row, off, c, data, this.fieldStart[c]!, this.fieldEnd[c]!, line);
      }
    } else {
      const metrics = b.metrics;
      const scanner = this.scanner;
      const kinds = this.kinds;
      let p = s;
      scanner.begin(data, s, e);
      for (let c = 0; c < cols; c++) {
        if (c > 0) {
          if (p >= e) throw this.ragged(line, c);
          p++;
        }
        if (kinds[c] === ColumnKind.Metric) {
          const v = scanner.scan(data, p, e);
          const q = scanner.end;
          if (q > p && (q === e || data[q] === COMMA)) {
            metrics[off + this.index[c]!] = v;
            p = q;
            continue;
          }
        }
        let fe = p;
        while (fe < e && data[fe] !== COMMA) fe++;
        this.cell(b, row, off, c, data, p, fe, line);
        p = fe;
      }
      if (p !== e) {
        let count = cols;
        for (let i = p; i < e; i++) if (data[i] === COMMA) count++;
        throw this.ragged(line, count);
      }
    }
    if (this.fixedEntity !== null) b.entity[row] = this.fixedEntity;
    if (!this.hasTimeColumn) b.ts[row] = this.rowTime(this.rows);
    this.n = row + 1;
    this.rows += 1;
    if (this.n === this.batchRows) this.flush();
  }

  /** One cell by the general path: any kind, spaces, missing values, every fault. */
  private cell(
    b: ImportBatch,
    row: number,
    off: number,
    c: number,
    data: Buffer,
    s: number,
    e: number,
    line: number,
  ): void {
    switch (this.kinds[c] as ColumnKind) {
      case ColumnKind.Metric: {
        const v = parseNumberText(data, s, e);
        if (v === null)
          throw this.badCell(line, c, data, s, e, 'not a number (a missing value is empty, NaN or null)');
        b.metrics[off + this.index[c]!] = v;
        return;
      }
      case ColumnKind.Time:
        b.ts[row] = this.time(data, s, e, line, c);
        return;
      case ColumnKind.Entity:
        b.entity[row] = this.entity(data, s, e, line, c);
        return;
      case ColumnKind.Label: {
        const v = flag(data, s, e);
        if (v < 0) throw this.badCell(line, c, data, s, e, 'a label must be 0 or 1');
        b.isAnomaly![row] = v;
        return;
      }
      case ColumnKind.AnomalyType:
        b.anomalyType![row] = this.text(data, s, e, line, c);
        return;
      case ColumnKind.Text:
        b.labels[this.index[c]!]![row] = this.text(data, s, e, line, c);
        return;
    }
  }

  private time(data: Buffer, s: number, e: number, line: number, c: number): number {
    let ms = parseRfc3339(data, s, e);
    if (ms === null) {
      if (!looksNumeric(data, s, e)) {
        throw this.badCell(
          line,
          c,
          data,
          s,
          e,
          'an unknown timestamp format (expected RFC 3339, or epoch time with timeUnit)',
        );
      }
      if (this.timeUnit === undefined) {
        throw this.badCell(line, c, data, s, e, "an epoch time needs timeUnit 's' or 'ms'");
      }
      ms = epochToMs(parseNumberText(data, s, e)!, this.timeUnit);
    }
    if (!(ms >= MIN_TIME_MS && ms <= MAX_TIME_MS)) {
      throw this.badCell(line, c, data, s, e, 'a timestamp outside the years 0000–9999');
    }
    return ms;
  }

  private entity(data: Buffer, s: number, e: number, line: number, c: number): string {
    const interner = this.interners[c]!;
    const known = interner.get(data, s, e);
    if (known !== undefined) return known;
    let ok = e - s >= 1 && e - s <= 200;
    for (let i = s; ok && i < e; i++) ok = ENTITY_BYTE[data[i]!] === 1;
    if (!ok) {
      throw this.badCell(line, c, data, s, e, 'an entity must be 1–200 letters, digits or . _ : -');
    }
    const text = latin1(data, s, e);
    interner.put(data, s, e, text);
    return text;
  }

  private text(data: Buffer, s: number, e: number, line: number, c: number): string | null {
    if (s === e) return null;
    const interner = this.interners[c]!;
    const known = interner.get(data, s, e);
    if (known !== undefined) return known;
    if (!isUtf8Range(data, s, e)) throw this.fault(line, c, 'not UTF-8');
    let text = utf8(data, s, e);
    if (text.includes('\0')) throw this.fault(line, c, 'a NUL character is not allowed in text');
    if (text.includes('"')) text = text.replaceAll('""', '"');
    interner.put(data, s, e, text);
    return text;
  }

  /**
   * The metrics a layout found are within the limit.
   *
   * @param line - the line that declares them
   * @param metricColumns - the 0-based columns that would be metrics
   */
  protected checkWidth(line: number, metricColumns: number[]): void {
    if (metricColumns.length <= MAX_METRICS) return;
    const c = metricColumns[MAX_METRICS]!;
    throw new ImportError(
      `line ${line}, column ${c + 1}${this.names[c] === undefined ? '' : ` (${this.names[c]})`}: more than ${MAX_METRICS.toLocaleString('en-US')} metrics (${metricColumns.length.toLocaleString('en-US')} columns would be metrics)`,
      { line, column: c + 1, columnName: this.names[c] ?? null },
    );
  }
}
