import { Readable } from 'node:stream';
import { createGunzip, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ImportError } from '../../../src/core/errors.js';
import { CsvParser } from '../../../src/core/import/csv.js';
import { parseImport, type ImportBatch } from '../../../src/core/import/parser.js';
import { SmdLabelParser, SmdParser } from '../../../src/core/import/smd.js';
import { readSmd, smdStream } from '../../helpers/data.js';
import { collect, feed } from './feed.js';

const START = Date.UTC(2024, 0, 1);
const smd = () => new SmdParser({ start: START, intervalS: 60, entityName: 'machine-2-1' });

describe('SmdParser', () => {
  it('names the metrics m01 … mNN from the first row, times the rows from start, one entity', () => {
    const out = feed(smd(), '0.5,0,1\n0.25,,0.125\n');
    expect(out.columns).toEqual({
      metrics: ['m01', 'm02', 'm03'],
      labels: [],
      hasLabel: false,
      hasAnomalyType: false,
    });
    expect(out.ts).toEqual([START, START + 60_000]);
    expect(out.entity).toEqual(['machine-2-1', 'machine-2-1']);
    expect(out.metrics).toEqual([
      [0.5, 0, 1],
      [0.25, NaN, 0.125],
    ]);
    expect(out.isAnomaly).toBeNull();
  });

  it('reads the real machine-2-1 files: 38 metrics, a record per line, values as written', async () => {
    const text = readSmd('train').toString('utf8');
    const lines = text.split('\n').filter((l) => l !== '');
    const parser = smd();
    const batches: ImportBatch[] = [];
    for await (const b of parseImport(smdStream('train'), parser)) batches.push(b);
    const out = collect(parser, batches);
    expect(out.columns?.metrics).toHaveLength(38);
    expect(out.columns?.metrics[37]).toBe('m38');
    expect(out.rows).toBe(lines.length);
    expect(out.rows).toBe(23_693);
    for (const r of [0, 1, 4_321, lines.length - 1]) {
      expect(out.metrics[r]).toEqual(lines[r]!.split(',').map(Number));
    }
    expect(out.metrics[0]!.slice(0, 4)).toEqual([0.20202, 0.017243, 0.02525, 0.045836]);
    expect(out.ts[lines.length - 1]).toBe(START + (lines.length - 1) * 60_000);
    // Chunked by 7,777 bytes: the same.
    expect(feed(smd(), readSmd('train'), 7_777)).toEqual(out);

    const labels = new SmdLabelParser();
    const got: Uint8Array[] = [];
    for await (const chunk of smdStream('test_label', 1000)) got.push(...labels.push(chunk as Buffer));
    got.push(...labels.end());
    const count = got.reduce((a, b) => a + b.length, 0);
    const ones = got.reduce((a, b) => a + b.reduce((x, v) => x + v, 0), 0);
    expect(count).toBe(23_694);
    expect(labels.rows).toBe(23_694);
    expect(ones).toBe(1_170);
  });
});

describe('a gzip body, unpacked by zlib before the parser', () => {
  const body = Buffer.from(
    `timestamp,host,a\n${Array.from({ length: 2000 }, (_, i) => `${i},h-${i % 3},${i / 7}`).join('\n')}\n`,
  );
  const run = async (bytes: Buffer) => {
    const parser = new CsvParser({ entity: 'host', timeUnit: 's', batchRows: 500 });
    let rows = 0;
    for await (const b of parseImport(Readable.from([bytes]).pipe(createGunzip()), parser)) rows += b.rows;
    return rows;
  };

  it('parses whole', async () => {
    await expect(run(gzipSync(body))).resolves.toBe(2000);
  });

  it('fails with a clear ImportError when the stream is truncated', async () => {
    const zipped = gzipSync(body);
    const err = await run(zipped.subarray(0, Math.floor(zipped.length / 2))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportError);
    expect((err as ImportError).message).toMatch(
      /^the body is not a complete gzip stream \(unexpected end of file\) after [\d,]+ bytes of data, [\d,]+ records$/,
    );
    expect((err as ImportError).code).toBe('invalid_input');
  });

  it('fails with a clear ImportError when the stream is not gzip at all', async () => {
    const err = await run(body).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportError);
    expect((err as ImportError).message).toMatch(
      /^the body is not a complete gzip stream \(incorrect header check\) after 0 bytes/,
    );
  });
});
