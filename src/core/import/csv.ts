/**
 * The CSV layout of an import (DESIGN.md, "Import"): a header row, RFC 4180 quoting, a time
 * column, an optional entity column, optional 0/1 label and anomaly-type columns, text label
 * columns, and every other column a metric.
 */
import { describe } from '../check.js';
import { ImportError } from '../errors.js';
import { MAX_LABELS, METRIC_NAME_PATTERN, RESERVED_NAMES } from '../../contract/vocabulary.js';
import { ENTITY_PATTERN, isMetricName } from './metric-names.js';
import { ColumnKind, TelemetryParser } from './parser.js';

/** How a CSV file is read. */
export interface CsvImportOptions {
  /** The time column's name (default `timestamp`): RFC 3339, or epoch time with {@link timeUnit}. */
  timestamp?: string;
  /** The unit of epoch times in the time column: `s` or `ms`; without it, only RFC 3339 is read. */
  timeUnit?: 's' | 'ms';
  /** The entity (`host_id`) column's name; without it every record is {@link entityName}'s. */
  entity?: string;
  /** The one entity of a file without an entity column (required then). */
  entityName?: string;
  /** An optional 0/1 anomaly label column. */
  label?: string;
  /** An optional text column of anomaly types (an empty cell: none). */
  anomalyType?: string;
  /** Text columns kept as labels (0 – 16), in this order. */
  labels?: readonly string[];
  /** Records per batch (default: about 4 MB of metric values). */
  batchRows?: number;
}

function optionError(name: string, message: string): ImportError {
  return new ImportError(`${name} ${message}`, {}, `options.${name}`);
}

function columnOption(
  options: CsvImportOptions,
  name: 'timestamp' | 'entity' | 'label' | 'anomalyType',
): string | undefined {
  const v = options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 1000) {
    throw optionError(name, `must be a column name; got ${describe(v)}`);
  }
  return v;
}

/** An entity name given by the caller: the same rule as an entity cell's. */
export function checkEntityName(name: unknown, option = 'entityName'): string {
  if (typeof name !== 'string' || !ENTITY_PATTERN.test(name)) {
    throw optionError(option, `must be 1–200 letters, digits or . _ : -; got ${describe(name)}`);
  }
  return name;
}

/** Checks a batchRows option. */
export function checkBatchRows(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1_048_576) {
    throw optionError('batchRows', `must be an integer in [1, 1048576]; got ${describe(v)}`);
  }
  return v;
}

/**
 * The incremental CSV parser: push Buffer chunks as they arrive, take the batches it returns
 * (an `ImportParser`: `push`, `end`, `columns`, `rows`, `bytes`).
 *
 * @example
 * const parser = new CsvParser({ timestamp: 'ts', timeUnit: 's', entity: 'host' });
 * for await (const batch of parseImport(fs.createReadStream('telemetry.csv'), parser)) copyIn(batch);
 */
export class CsvParser extends TelemetryParser {
  private readonly roles = new Map<string, ColumnKind>();
  private readonly option = new Map<string, string>();
  private readonly labelNames: string[];

  /**
   * @param options - how the file is read; checked here (a bad option is an ImportError whose
   *   issue path is `options.<name>`)
   */
  constructor(options: CsvImportOptions = {}) {
    super(checkBatchRows(options.batchRows));
    const timestamp = columnOption(options, 'timestamp') ?? 'timestamp';
    const entity = columnOption(options, 'entity');
    const label = columnOption(options, 'label');
    const anomalyType = columnOption(options, 'anomalyType');
    if (options.timeUnit !== undefined && options.timeUnit !== 's' && options.timeUnit !== 'ms') {
      throw optionError('timeUnit', `must be 's' or 'ms'; got ${describe(options.timeUnit)}`);
    }
    this.timeUnit = options.timeUnit;
    if (entity === undefined) this.fixedEntity = checkEntityName(options.entityName);
    else if (options.entityName !== undefined) {
      throw optionError(
        'entityName',
        'names the one entity of a file without an entity column; give entity or entityName, not both',
      );
    }
    const labels: readonly unknown[] = options.labels ?? [];
    if (!Array.isArray(labels) || labels.length > MAX_LABELS) {
      throw optionError(
        'labels',
        `must be a list of at most ${MAX_LABELS} column names; got ${Array.isArray(labels) ? `${labels.length} names` : describe(labels)}`,
      );
    }
    const assign = (name: string, kind: ColumnKind, what: string) => {
      const other = this.option.get(name);
      if (other !== undefined)
        throw optionError(what, `names the column ${JSON.stringify(name)}, which ${other} names too`);
      this.roles.set(name, kind);
      this.option.set(name, what);
    };
    assign(timestamp, ColumnKind.Time, 'timestamp');
    if (entity !== undefined) assign(entity, ColumnKind.Entity, 'entity');
    if (label !== undefined) assign(label, ColumnKind.Label, 'label');
    if (anomalyType !== undefined) assign(anomalyType, ColumnKind.AnomalyType, 'anomalyType');
    for (const l of labels) {
      if (typeof l !== 'string' || !isMetricName(l)) {
        throw optionError(
          'labels',
          `must hold label names matching ${METRIC_NAME_PATTERN.source}, other than ${RESERVED_NAMES.join(', ')}; got ${describe(l)}`,
        );
      }
      assign(l, ColumnKind.Text, 'labels');
    }
    this.labelNames = (labels as string[]).slice();
  }

  protected columnsBasis(): string {
    return 'the header has';
  }

  protected rowTime(): number {
    return NaN;
  }

  protected record(data: Buffer, s: number, e: number, quoted: boolean, line: number): void {
    if (this.columns === null) this.header(data, s, e, line);
    else this.dataRecord(data, s, e, quoted, line);
  }

  protected finished(): void {
    if (this.columns === null)
      throw new ImportError('the input is empty: a CSV import needs a header row', {});
  }

  private header(data: Buffer, s: number, e: number, line: number): void {
    const count = this.fields(data, s, e, line);
    const names: string[] = [];
    for (let f = 0; f < count; f++) names.push(this.fieldText(data, f, line));
    this.names = names;
    const first = new Map<string, number>();
    names.forEach((n, c) => {
      const before = first.get(n);
      if (before !== undefined)
        throw this.fault(line, c, `a duplicate column name (column ${before + 1} has it too)`);
      first.set(n, c);
    });
    for (const [name, what] of this.option) {
      if (!first.has(name)) {
        const shown = names
          .slice(0, 20)
          .map((n) => JSON.stringify(n))
          .join(', ');
        throw new ImportError(
          `line ${line}: no column named ${JSON.stringify(name)} (the ${what} option); the header has ${shown}${names.length > 20 ? ', …' : ''}`,
          { line, columnName: name },
        );
      }
    }
    const kinds = names.map((n) => this.roles.get(n) ?? ColumnKind.Metric);
    const metricColumns = kinds.flatMap((k, c) => (k === ColumnKind.Metric ? [c] : []));
    this.checkWidth(line, metricColumns);
    for (const c of metricColumns) {
      if (!isMetricName(names[c]!)) {
        throw this.fault(
          line,
          c,
          `not a valid metric name: it must match ${METRIC_NAME_PATTERN.source} and not be one of ${RESERVED_NAMES.join(', ')}`,
        );
      }
    }
    const metrics = metricColumns.map((c) => names[c]!);
    if (metrics.length === 0) {
      throw new ImportError(`line ${line}: no metric column (every column is the time, entity or a label)`, {
        line,
      });
    }
    this.declare(names, kinds, {
      metrics,
      labels: this.labelNames,
      hasLabel: kinds.includes(ColumnKind.Label),
      hasAnomalyType: kinds.includes(ColumnKind.AnomalyType),
    });
  }
}
