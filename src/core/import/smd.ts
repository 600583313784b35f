/**
 * The Server Machine Dataset's layout (DESIGN.md, "Import"): comma-separated metrics, no header
 * and no time column — rows are `intervalS` apart from `start`, one entity, metrics `m01` …
 * `mNN` (the width of the first row) — and its label file, one 0/1 per line.
 */
import { describe } from '../check.js';
import { ImportError } from '../errors.js';
import { MAX_TIME_MS, MIN_TIME_MS } from './cells.js';
import { checkBatchRows, checkEntityName } from './csv.js';
import { smdMetricNames } from './metric-names.js';
import { ColumnKind, flag, TelemetryParser } from './parser.js';
import { RecordSplitter } from './records.js';

/** How an SMD file is read. */
export interface SmdImportOptions {
  /** Time of the first row, ms since the Unix epoch. */
  start: number;
  /** Seconds between rows (positive; SMD's are one minute apart: 60). */
  intervalS: number;
  /** The one entity of the file. */
  entityName: string;
  /** Records per batch (default: about 4 MB of metric values). */
  batchRows?: number;
}

/**
 * The incremental SMD parser: push Buffer chunks as they arrive, take the batches it returns
 * (an `ImportParser`: `push`, `end`, `columns`, `rows`, `bytes`).
 */
export class SmdParser extends TelemetryParser {
  private readonly start: number;
  private readonly intervalMs: number;

  /** @param options - where the rows are in time and whose they are; checked here */
  constructor(options: SmdImportOptions) {
    super(checkBatchRows(options?.batchRows));
    const { start, intervalS } = options;
    if (typeof start !== 'number' || !(start >= MIN_TIME_MS && start <= MAX_TIME_MS)) {
      throw new ImportError(
        `start must be a time in ms within the years 0000–9999; got ${describe(start)}`,
        {},
        'options.start',
      );
    }
    if (typeof intervalS !== 'number' || !(intervalS > 0 && intervalS <= 31_622_400)) {
      throw new ImportError(
        `intervalS must be a number of seconds in (0, 31622400]; got ${describe(intervalS)}`,
        {},
        'options.intervalS',
      );
    }
    this.fixedEntity = checkEntityName(options.entityName);
    this.start = start;
    this.intervalMs = intervalS * 1000;
  }

  protected columnsBasis(): string {
    return 'line 1 has';
  }

  protected rowTime(row: number): number {
    return this.start + row * this.intervalMs;
  }

  protected record(data: Buffer, s: number, e: number, quoted: boolean, line: number): void {
    if (this.columns === null) {
      const d = this.fields(data, s, e, line);
      const columns = Array.from({ length: d }, (_, c) => c);
      const metrics = smdMetricNames(d);
      this.names = metrics;
      this.checkWidth(line, columns);
      this.declare(
        metrics,
        columns.map(() => ColumnKind.Metric),
        { metrics, labels: [], hasLabel: false, hasAnomalyType: false },
      );
    }
    this.dataRecord(data, s, e, quoted, line);
  }

  protected finished(): void {
    if (this.columns === null)
      throw new ImportError('the input is empty: an SMD file needs at least one row', {});
  }
}

/**
 * The incremental parser of SMD's label file: one 0/1 per line (spaces around it and CRLF
 * allowed, empty lines skipped), in row order.
 */
export class SmdLabelParser extends RecordSplitter {
  /** Labels read so far. */
  rows = 0;
  private out: Uint8Array[] = [];
  private batch: Uint8Array;
  private n = 0;

  /** @param batchRows - labels per batch (default 65,536) */
  constructor(batchRows = 65_536) {
    super();
    this.batch = new Uint8Array(checkBatchRows(batchRows)!);
  }

  /**
   * Feeds one chunk (cut anywhere); the chunk is not kept after the call.
   *
   * @returns the batches of labels completed by it
   * @throws ImportError naming the line of a value other than 0 or 1
   */
  push(chunk: Uint8Array): Uint8Array[] {
    this.guard(() => this.split(chunk));
    return this.drain();
  }

  /** Ends the input. @returns the last batch of labels, if any */
  end(): Uint8Array[] {
    this.guard(() => {
      this.finish();
      if (this.n > 0) this.out.push(this.batch.slice(0, this.n));
      this.n = 0;
    });
    return this.drain();
  }

  private drain(): Uint8Array[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  protected record(data: Buffer, s: number, e: number, _quoted: boolean, line: number): void {
    const v = flag(data, s, e);
    if (v < 0) {
      const text = data.toString('utf8', s, Math.min(e, s + 60));
      throw new ImportError(`line ${line}, column 1: a label must be 0 or 1; got ${JSON.stringify(text)}`, {
        line,
        column: 1,
      });
    }
    this.batch[this.n++] = v;
    this.rows += 1;
    if (this.n === this.batch.length) {
      this.out.push(this.batch);
      this.batch = new Uint8Array(this.batch.length);
      this.n = 0;
    }
  }
}
