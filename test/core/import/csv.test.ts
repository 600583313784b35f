import { describe, expect, it } from 'vitest';
import { CsvParser, type CsvImportOptions } from '../../../src/core/import/csv.js';
import { feed } from './feed.js';

const csv = (o: CsvImportOptions = {}) => new CsvParser({ entity: 'host', ...o });

describe('CsvParser: the columns', () => {
  it('reads the time, the entity, the labels and every other column as a metric, in column order', () => {
    const text =
      'timestamp,host,cpu,is_anomaly,region,mem,kind,project\n' +
      '2024-01-01T00:00:00Z,h-1,1.5,0,eu,2,,p1\n' +
      '2024-01-01T00:01:00.250+01:00,h-2,-3e2,1,us,0.125,spike,\n';
    const out = feed(csv({ label: 'is_anomaly', anomalyType: 'kind', labels: ['project', 'region'] }), text);
    expect(out.columns).toEqual({
      metrics: ['cpu', 'mem'],
      labels: ['project', 'region'],
      hasLabel: true,
      hasAnomalyType: true,
    });
    expect(out.rows).toBe(2);
    expect(out.ts).toEqual([Date.UTC(2024, 0, 1), Date.UTC(2023, 11, 31, 23, 1, 0, 250)]);
    expect(out.entity).toEqual(['h-1', 'h-2']);
    expect(out.metrics).toEqual([
      [1.5, 2],
      [-300, 0.125],
    ]);
    expect(out.isAnomaly).toEqual([0, 1]);
    expect(out.anomalyType).toEqual([null, 'spike']);
    expect(out.labels).toEqual([
      ['p1', null],
      ['eu', 'us'],
    ]);
  });

  it('gives every record the caller’s entity when there is no entity column, and no labels', () => {
    const out = feed(new CsvParser({ entityName: 'web-1' }), 'timestamp,a\n2024-01-01T00:00:00Z,1\n');
    expect(out.entity).toEqual(['web-1']);
    expect(out.columns).toEqual({ metrics: ['a'], labels: [], hasLabel: false, hasAnomalyType: false });
    expect(out.isAnomaly).toBeNull();
    expect(out.anomalyType).toBeNull();
  });

  it('reads a missing value (empty, NaN, null in any case) as NaN, and inf as PostgreSQL does', () => {
    const out = feed(
      csv({ timestamp: 't', timeUnit: 's' }),
      't,host,a,b,c,d,e\n0,h,,NaN,nUlL,-Infinity,inf\n1,h,nan,NULL, ,+inf,1\n',
    );
    expect(out.metrics).toEqual([
      [NaN, NaN, NaN, -Infinity, Infinity],
      [NaN, NaN, NaN, Infinity, 1],
    ]);
  });

  it('reads numbers exactly as Number() does, whatever their form', () => {
    const cells = [
      '0',
      '-0',
      '0.202020',
      '123456789012345',
      '1234567890123456789',
      '0.1e-5',
      '3E+22',
      '4.9e-324',
      '1.7976931348623157e308',
      '2.2250738585072011e-308',
      '.5',
      '5.',
      '+7',
      ' 12.5 ',
      '0.30000000000000004',
      '9007199254740993',
      '1e400',
      '123.456e-7',
    ];
    const header = `timestamp,host,${cells.map((_, i) => `m${i}`).join(',')}\n`;
    const out = feed(csv(), `${header}2024-01-01T00:00:00Z,h,${cells.join(',')}\n`);
    const expected = cells.map((c) => Number(c));
    expect(out.metrics[0]!.map((v) => (Object.is(v, -0) ? '-0' : v))).toEqual(
      expected.map((v) => (Object.is(v, -0) ? '-0' : v)),
    );
  });

  it('reads RFC 3339 in its forms, and epoch seconds and milliseconds by timeUnit', () => {
    const times = [
      '2024-02-29T23:59:59Z',
      '2024-02-29t23:59:59z',
      '2024-02-29 23:59:59.5Z',
      '2024-03-01T01:29:59-01:30',
      '1970-01-01T00:00:00.0000015Z',
      '0000-01-01T00:00:00Z',
      '2016-12-31T23:59:60Z',
    ];
    const out = feed(csv(), `timestamp,host,a\n${times.map((t) => `${t},h,1`).join('\n')}\n`);
    expect(out.ts).toEqual([
      Date.UTC(2024, 1, 29, 23, 59, 59),
      Date.UTC(2024, 1, 29, 23, 59, 59),
      Date.UTC(2024, 1, 29, 23, 59, 59, 500),
      Date.UTC(2024, 2, 1, 2, 59, 59),
      0.002,
      -62_167_219_200_000,
      Date.UTC(2017, 0, 1),
    ]);
    const s = feed(csv({ timeUnit: 's' }), 'timestamp,host,a\n1700000000,h,1\n1700000000.123456,h,1\n');
    expect(s.ts).toEqual([1_700_000_000_000, 1_700_000_000_123.456]);
    const ms = feed(csv({ timeUnit: 'ms' }), 'timestamp,host,a\n1700000000123,h,1\n-5,h,1\n');
    expect(ms.ts).toEqual([1_700_000_000_123, -5]);
  });

  it('takes CRLF line ends, a byte order mark, empty lines and a last line without a line end', () => {
    const out = feed(
      csv(),
      '\uFEFFtimestamp,host,a\r\n\r\n2024-01-01T00:00:00Z,h,1\r\n\n2024-01-01T00:00:01Z,h,2',
    );
    expect(out.columns?.metrics).toEqual(['a']);
    expect(out.metrics).toEqual([[1], [2]]);
  });

  it('keeps entity strings and non-ASCII labels intact', () => {
    const out = feed(
      csv({ labels: ['city'] }),
      'timestamp,host,city,a\n2024-01-01T00:00:00Z,db-1.eu:5432,Zürich 東京,1\n',
    );
    expect(out.entity).toEqual(['db-1.eu:5432']);
    expect(out.labels).toEqual([['Zürich 東京']]);
  });

  it('cuts the output into batches of batchRows records, numbered by their first row', () => {
    const lines = Array.from({ length: 10 }, (_, i) => `${i},h,${i}`).join('\n');
    const out = feed(csv({ timeUnit: 's', batchRows: 4 }), `timestamp,host,a\n${lines}\n`);
    expect(out.firstRows).toEqual([0, 4, 8]);
    expect(out.metrics.flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('CsvParser: RFC 4180 quoting', () => {
  it('reads commas, doubled quotes and line breaks inside quoted fields, and quoted numbers', () => {
    const text =
      '"timestamp","host",note,"a"\n' +
      '"2024-01-01T00:00:00Z",h,"one, two",1\n' +
      '2024-01-01T00:00:01Z,h,"say ""hi""","2.5"\n' +
      '2024-01-01T00:00:02Z,h,"line\nbreak\r\nand more",3\n' +
      '2024-01-01T00:00:03Z,h,"",""\n';
    const out = feed(csv({ labels: ['note'] }), text);
    expect(out.labels).toEqual([['one, two', 'say "hi"', 'line\nbreak\r\nand more', null]]);
    expect(out.metrics).toEqual([[1], [2.5], [3], [NaN]]);
  });
});

/** A CSV with every feature: quotes, line breaks in quotes, CRLF, multi-byte text, labels. */
function richCsv(rows: number): string {
  const lines = ['timestamp,host,"cpu",mem,is_anomaly,kind,"city"'];
  const cities = ['Zürich', '東京', 'São Paulo', '"quoted", town', 'two\nlines', 'Kraków'];
  for (let i = 0; i < rows; i++) {
    const city = cities[i % cities.length]!;
    const quoted = /[",\n]/.test(city) ? `"${city.replaceAll('"', '""')}"` : city;
    const end = i % 3 === 0 ? '\r\n' : '\n';
    lines.push(
      `${new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString()},host-${i % 4},${(i * 1.37) % 100},${i % 7 === 0 ? '' : (i / 3).toFixed(6)},${i % 5 === 0 ? 1 : 0},${i % 5 === 0 ? 'spike' : ''},${quoted}${end}`,
    );
  }
  return lines.join('\n');
}

describe('CsvParser: chunk boundaries', () => {
  it('gives identical output fed whole and in chunks of 1, 2, 3, 7 and 4096 bytes', () => {
    const bytes = Buffer.from(richCsv(500), 'utf8');
    const make = () => csv({ label: 'is_anomaly', anomalyType: 'kind', labels: ['city'], batchRows: 64 });
    const whole = feed(make(), bytes);
    expect(whole.rows).toBe(500);
    expect(whole.labels[0]!.slice(0, 6)).toEqual([
      'Zürich',
      '東京',
      'São Paulo',
      '"quoted", town',
      'two\nlines',
      'Kraków',
    ]);
    for (const size of [1, 2, 3, 7, 4096]) expect(feed(make(), bytes, size)).toEqual(whole);
  });
});
