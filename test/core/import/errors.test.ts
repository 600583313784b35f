/**
 * Every bad input of an import is an ImportError (a ValidationError: a 400) whose message names
 * the line and column, whatever the chunk boundaries.
 */
import { describe, expect, it } from 'vitest';
import { ImportError, ValidationError } from '../../../src/core/errors.js';
import { CsvParser, type CsvImportOptions } from '../../../src/core/import/csv.js';
import type { ImportParser } from '../../../src/core/import/parser.js';
import { SmdLabelParser, SmdParser } from '../../../src/core/import/smd.js';
import { feed, parseError } from './feed.js';

const csv =
  (o: CsvImportOptions = {}) =>
  () =>
    new CsvParser({ entity: 'host', ...o });
const smd = () => new SmdParser({ start: 0, intervalS: 60, entityName: 'machine-2-1' });
const T = '2024-01-01T00:00:00Z';

interface Fault {
  message: string;
  line: number | null;
  column: number | null;
  columnName?: string | null;
}

/** The fault of a parse, the same fed whole and in chunks of 1 and 7 bytes. */
function fault(make: () => ImportParser, bytes: string | Uint8Array): Fault {
  const errors = [0, 1, 7].map((size) => parseError(make, bytes, size));
  for (const e of errors) {
    expect(e).toBeInstanceOf(ImportError);
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.message).toBe(errors[0]!.message);
  }
  const e = errors[0] as ImportError;
  expect(e.code).toBe('invalid_input');
  expect(e.details).toEqual({ issues: [{ path: 'body', message: e.message }] });
  return { message: e.message, line: e.line, column: e.column, columnName: e.columnName };
}

describe('a CSV import fails, naming line and column, on', () => {
  it('a row with too few or too many fields', () => {
    expect(fault(csv(), `timestamp,host,a,b\n${T},h,1,2\n${T},h,1\n`)).toEqual({
      message: 'line 3, column 4 (b): missing: the line has 3 fields, the header has 4',
      line: 3,
      column: 4,
      columnName: 'b',
    });
    expect(fault(csv(), `timestamp,host,a\n${T},h,1,2,3\n`)).toEqual({
      message: 'line 2, column 4: one field too many: the line has 5 fields, the header has 3',
      line: 2,
      column: 4,
      columnName: null,
    });
    // The same with quotes in the row.
    expect(fault(csv(), `timestamp,host,a\n"${T}",h,1,"x"\n`).message).toBe(
      'line 2, column 4: one field too many: the line has 4 fields, the header has 3',
    );
  });

  it('a metric cell that is not a number', () => {
    expect(fault(csv(), `timestamp,host,cpu,mem\n${T},h,1,2\n${T},h,1,abc\n`)).toEqual({
      message: 'line 3, column 4 (mem): not a number (a missing value is empty, NaN or null); got "abc"',
      line: 3,
      column: 4,
      columnName: 'mem',
    });
    for (const cell of ['1.2.3', '0x10', '1e', '--1', 'Infinit', '1_000']) {
      const e = parseError(csv(), `timestamp,host,a\n${T},h,${cell}\n`);
      expect(e.message).toMatch(/^line 2, column 3 \(a\): /);
    }
  });

  it('a duplicate or invalid column name', () => {
    expect(fault(csv(), `timestamp,host,cpu,mem,cpu\n`)).toEqual({
      message: 'line 1, column 5 (cpu): a duplicate column name (column 3 has it too)',
      line: 1,
      column: 5,
      columnName: 'cpu',
    });
    for (const name of ['cpu usage', '1cpu', '', 'é', 'a-b', 'x'.repeat(201), 'is_anomaly', 'ts']) {
      const f = fault(csv(), `timestamp,host,ok,"${name}"\n`);
      expect(f.message).toBe(
        `line 1, column 4 (${name}): not a valid metric name: it must match ^[A-Za-z_:][A-Za-z0-9_:.]{0,199}$ and not be one of ts, host_id, is_anomaly, anomaly_type, anomaly_episode`,
      );
      expect(f.column).toBe(4);
    }
    // Dots (OpenTelemetry), colons (Prometheus recording rules) and 200 characters are names.
    expect(() => parseError(csv(), `timestamp,host,system.cpu.time,job:rate5m,${'y'.repeat(200)}\n`)).toThrow(
      'expected the parse to fail',
    );
  });

  it('an unknown timestamp format, or an epoch time without timeUnit', () => {
    expect(fault(csv(), `timestamp,host,a\n${T},h,1\n01/02/2024 10:00,h,1\n`)).toEqual({
      message:
        'line 3, column 1 (timestamp): an unknown timestamp format (expected RFC 3339, or epoch time with timeUnit); got "01/02/2024 10:00"',
      line: 3,
      column: 1,
      columnName: 'timestamp',
    });
    for (const t of [
      '2024-13-01T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '2024-01-01T24:00:00Z',
      '2024-01-01T00:00:00',
      '2024-01-01T00:00:00+0100',
      '',
      'NaN',
    ]) {
      expect(parseError(csv(), `timestamp,host,a\n${t},h,1\n`).message).toMatch(
        /^line 2, column 1 \(timestamp\): an unknown timestamp format/,
      );
    }
    expect(fault(csv(), `timestamp,host,a\n1700000000,h,1\n`).message).toBe(
      `line 2, column 1 (timestamp): an epoch time needs timeUnit 's' or 'ms'; got "1700000000"`,
    );
    expect(fault(csv({ timeUnit: 'ms' }), `timestamp,host,a\n1e300,h,1\n`).message).toBe(
      'line 2, column 1 (timestamp): a timestamp outside the years 0000–9999; got "1e300"',
    );
  });

  it('a line longer than 1 MiB, the header or a row', () => {
    const long = 'x'.repeat(1024 * 1024);
    expect(fault(csv(), `timestamp,host,a\n${T},h,1\n${T},h,"${long}"\n${T},h,1\n`)).toEqual({
      message: 'line 3: longer than 1 MiB (1,048,576 bytes)',
      line: 3,
      column: null,
      columnName: null,
    });
    expect(fault(csv(), `timestamp,host,a${long}\n`).message).toBe(
      'line 1: longer than 1 MiB (1,048,576 bytes)',
    );
    // A line of exactly 1 MiB is read; one byte more is not.
    const line = (extra: number) => {
      const head = `${T},h,"`;
      const tail = '",1';
      return `${head}${'x'.repeat(1024 * 1024 - head.length - tail.length + extra)}${tail}`;
    };
    const make = csv({ labels: ['note'] });
    expect(line(0)).toHaveLength(1024 * 1024);
    for (const size of [0, 4096]) {
      expect(feed(make(), `timestamp,host,note,a\n${line(0)}\r\n`, size).rows).toBe(1);
      expect(parseError(make, `timestamp,host,note,a\n${line(1)}\n`, size).message).toBe(
        'line 2: longer than 1 MiB (1,048,576 bytes)',
      );
    }
  });

  it('a body that is not UTF-8, in a text, a metric or a header cell', () => {
    const bytes = (...parts: (string | number[])[]) =>
      Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
    expect(
      fault(csv({ labels: ['city'] }), bytes(`timestamp,host,city,a\n${T},h,Z`, [0xfc], 'rich,1\n')),
    ).toEqual({
      message: 'line 2, column 3 (city): not UTF-8',
      line: 2,
      column: 3,
      columnName: 'city',
    });
    expect(fault(csv(), bytes(`timestamp,host,a\n${T},h,1`, [0xc3], '\n')).message).toBe(
      'line 2, column 3 (a): not UTF-8',
    );
    expect(fault(csv(), bytes('timestamp,host,a,b', [0xe2, 0x82], '\n')).message).toBe(
      'line 1, column 4: not UTF-8',
    );
    expect(fault(csv(), bytes(`timestamp,host,a\n${T},h`, [0xff], ',1\n')).message).toBe(
      'line 2, column 2 (host): not UTF-8',
    );
  });

  it('more than 1,024 metrics', () => {
    const names = Array.from({ length: 1025 }, (_, i) => `m${i}`);
    expect(fault(csv(), `timestamp,host,${names.join(',')}\n`)).toEqual({
      message: 'line 1, column 1027 (m1024): more than 1,024 metrics (1,025 columns would be metrics)',
      line: 1,
      column: 1027,
      columnName: 'm1024',
    });
    // 1,024 metrics are fine.
    const ok = new CsvParser({ entity: 'host' });
    ok.push(Buffer.from(`timestamp,host,${names.slice(0, 1024).join(',')}\n`));
    expect(ok.columns?.metrics).toHaveLength(1024);
  });

  it('more than 16 labels', () => {
    const labels = Array.from({ length: 17 }, (_, i) => `l${i}`);
    const e = (() => {
      try {
        new CsvParser({ entity: 'host', labels });
      } catch (err) {
        return err as ImportError;
      }
      throw new Error('expected an error');
    })();
    expect(e).toBeInstanceOf(ImportError);
    expect(e.message).toBe('labels must be a list of at most 16 column names; got 17 names');
    expect(e.issues).toEqual([{ path: 'options.labels', message: e.message }]);
    expect(() => new CsvParser({ entity: 'host', labels: labels.slice(0, 16) })).not.toThrow();
  });

  it('a label column with values other than 0/1', () => {
    const make = csv({ label: 'is_anomaly' });
    expect(fault(make, `timestamp,host,a,is_anomaly\n${T},h,1,0\n${T},h,1,1\n${T},h,1,2\n`)).toEqual({
      message: 'line 4, column 4 (is_anomaly): a label must be 0 or 1; got "2"',
      line: 4,
      column: 4,
      columnName: 'is_anomaly',
    });
    for (const v of ['', 'true', '1.0', '-1', 'NaN']) {
      expect(parseError(make, `timestamp,host,a,is_anomaly\n${T},h,1,${v}\n`).message).toMatch(
        /^line 2, column 4 \(is_anomaly\): a label must be 0 or 1/,
      );
    }
  });

  it('a timestamp, entity, label or labels column named but absent', () => {
    expect(fault(csv({ timestamp: 'time' }), `timestamp,host,a\n`)).toEqual({
      message:
        'line 1: no column named "time" (the timestamp option); the header has "timestamp", "host", "a"',
      line: 1,
      column: null,
      columnName: 'time',
    });
    expect(fault(csv({ entity: 'hostname' }), `timestamp,host,a\n`).message).toBe(
      'line 1: no column named "hostname" (the entity option); the header has "timestamp", "host", "a"',
    );
    expect(fault(csv({ label: 'y' }), `timestamp,host,a\n`).message).toMatch(
      /^line 1: no column named "y" \(the label option\)/,
    );
    expect(fault(csv({ labels: ['region'] }), `timestamp,host,a\n`).message).toMatch(
      /^line 1: no column named "region" \(the labels option\)/,
    );
  });

  it('malformed quoting', () => {
    expect(fault(csv(), `timestamp,host,a\n${T},h,"1\n`)).toEqual({
      message: 'line 2: a quoted field is not closed before the end of the input',
      line: 2,
      column: null,
      columnName: null,
    });
    expect(fault(csv(), `timestamp,host,a\n${T},h"x",1\n`).message).toBe(
      'line 2, column 2 (host): a quote inside an unquoted field (quote the field and double the quote)',
    );
    expect(fault(csv(), `timestamp,host,a\n${T},"h"x,1\n`).message).toBe(
      'line 2, column 2 (host): a closing quote must be followed by a comma or the end of the line',
    );
    expect(fault(csv(), `timestamp,host,a\n${T},h,"1""5"\n`).message).toBe(
      'line 2, column 3 (a): a quote is not allowed here; got "1\\"\\"5"',
    );
  });

  it('names the first line of a record that spans several', () => {
    expect(
      fault(csv({ labels: ['note'] }), `timestamp,host,note,a\n${T},h,"a\nb\nc",1\n${T},h,x,y\n`).message,
    ).toBe('line 5, column 4 (a): not a number (a missing value is empty, NaN or null); got "y"');
  });

  it('an entity that the API could not name, and a NUL in text', () => {
    expect(fault(csv(), `timestamp,host,a\n${T},web server,1\n`).message).toBe(
      'line 2, column 2 (host): an entity must be 1–200 letters, digits or . _ : -; got "web server"',
    );
    expect(fault(csv(), `timestamp,host,a\n${T},,1\n`).message).toBe(
      'line 2, column 2 (host): an entity must be 1–200 letters, digits or . _ : -; got ""',
    );
    expect(fault(csv({ labels: ['note'] }), `timestamp,host,note,a\n${T},h,a\0b,1\n`).message).toBe(
      'line 2, column 3 (note): a NUL character is not allowed in text',
    );
  });

  it('an empty input, and a header with no metric', () => {
    expect(fault(csv(), '').message).toBe('the input is empty: a CSV import needs a header row');
    expect(fault(csv(), '\r\n\n').message).toBe('the input is empty: a CSV import needs a header row');
    expect(fault(csv(), 'timestamp,host\n').message).toBe(
      'line 1: no metric column (every column is the time, entity or a label)',
    );
  });

  it('refuses every call after a fault with the same error', () => {
    const p = new CsvParser({ entity: 'host' });
    expect(() => p.push(Buffer.from('timestamp,host,a b\n'))).toThrow(ImportError);
    expect(() => p.push(Buffer.from('x'))).toThrow(/column 3 \(a b\): not a valid metric name/);
    expect(() => p.end()).toThrow(/column 3 \(a b\): not a valid metric name/);
  });
});

describe('bad import options are ImportErrors naming the option', () => {
  const cases: [CsvImportOptions, string, string][] = [
    [
      { entity: 'host', timeUnit: 'us' as 's' },
      "timeUnit must be 's' or 'ms'; got \"us\"",
      'options.timeUnit',
    ],
    [{}, 'entityName must be 1–200 letters, digits or . _ : -; got undefined', 'options.entityName'],
    [
      { entityName: 'a b' },
      'entityName must be 1–200 letters, digits or . _ : -; got "a b"',
      'options.entityName',
    ],
    [
      { entity: 'host', entityName: 'h' },
      'entityName names the one entity of a file without an entity column; give entity or entityName, not both',
      'options.entityName',
    ],
    [
      { entity: 'timestamp' },
      'entity names the column "timestamp", which timestamp names too',
      'options.entity',
    ],
    [
      { entity: 'h', labels: ['r', 'r'] },
      'labels names the column "r", which labels names too',
      'options.labels',
    ],
    [
      { entity: 'h', labels: ['host_id'] },
      'labels must hold label names matching ^[A-Za-z_:][A-Za-z0-9_:.]{0,199}$, other than ts, host_id, is_anomaly, anomaly_type, anomaly_episode; got "host_id"',
      'options.labels',
    ],
    [{ entity: 'h', timestamp: '' }, 'timestamp must be a column name; got ""', 'options.timestamp'],
    [
      { entity: 'h', batchRows: 0 },
      'batchRows must be an integer in [1, 1048576]; got 0',
      'options.batchRows',
    ],
  ];
  it.each(cases)('%j', (options, message, path) => {
    try {
      new CsvParser(options);
    } catch (err) {
      expect(err).toBeInstanceOf(ImportError);
      expect((err as ImportError).message).toBe(message);
      expect((err as ImportError).issues[0]?.path).toBe(path);
      return;
    }
    throw new Error('expected an error');
  });

  it('SMD options', () => {
    expect(() => new SmdParser({ start: NaN, intervalS: 60, entityName: 'm' })).toThrow(
      'start must be a time in ms within the years 0000–9999; got NaN',
    );
    expect(() => new SmdParser({ start: 0, intervalS: 0, entityName: 'm' })).toThrow(
      'intervalS must be a number of seconds in (0, 31622400]; got 0',
    );
    expect(() => new SmdParser({ start: 0, intervalS: 60, entityName: '' })).toThrow(
      'entityName must be 1–200 letters, digits or . _ : -; got ""',
    );
  });
});

describe('an SMD import fails, naming line and column, on', () => {
  it('a ragged row and a non-numeric cell', () => {
    expect(fault(smd, '0.1,0.2,0.3\n0.1,0.2\n')).toEqual({
      message: 'line 2, column 3 (m03): missing: the line has 2 fields, line 1 has 3',
      line: 2,
      column: 3,
      columnName: 'm03',
    });
    expect(fault(smd, '0.1,0.2\n0.1,0.2,0.3\n').message).toBe(
      'line 2, column 3: one field too many: the line has 3 fields, line 1 has 2',
    );
    expect(fault(smd, '0.1,0.2\n0.1,x\n').message).toBe(
      'line 2, column 2 (m02): not a number (a missing value is empty, NaN or null); got "x"',
    );
  });

  it('more than 1,024 columns, an overlong line, an empty input', () => {
    expect(fault(smd, `${Array.from({ length: 1025 }, () => '0').join(',')}\n`).message).toBe(
      'line 1, column 1025 (m1025): more than 1,024 metrics (1,025 columns would be metrics)',
    );
    expect(fault(smd, `0.1\n${'1'.repeat(1024 * 1024 + 1)}\n`).message).toBe(
      'line 2: longer than 1 MiB (1,048,576 bytes)',
    );
    expect(fault(smd, '').message).toBe('the input is empty: an SMD file needs at least one row');
  });
});

describe("SMD's label file", () => {
  const labels = (text: string, size = 0) => {
    const p = new SmdLabelParser(3);
    const out: number[] = [];
    const data = Buffer.from(text);
    const step = size || Math.max(1, data.length);
    for (let i = 0; i < data.length; i += step)
      for (const b of p.push(data.subarray(i, i + step))) out.push(...b);
    for (const b of p.end()) out.push(...b);
    return out;
  };

  it('reads one 0/1 per line, CRLF and a last line without a line end included', () => {
    for (const size of [0, 1, 2, 5]) expect(labels('0\n1\r\n1\n0\n0\n1', size)).toEqual([0, 1, 1, 0, 0, 1]);
  });

  it('fails on anything else, naming the line', () => {
    for (const size of [0, 1]) {
      expect(() => labels('0\n1\n0.5\n', size)).toThrow(
        'line 3, column 1: a label must be 0 or 1; got "0.5"',
      );
    }
    expect(() => labels('0\n\n2\n')).toThrow('line 3, column 1: a label must be 0 or 1; got "2"');
  });
});
