/**
 * The binary COPY decoding of readMetricsChunks (src/db/telemetry.ts) on streams cut at every
 * kind of place — inside the header, its extension area, a tuple, a double, the trailer — and
 * blocks that fill in the middle of a network buffer. A stand-in connection hands out the bytes,
 * so no database is needed; the database round trip is tested in telemetry.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { METRICS } from '../../src/core/types.js';
import { readMetricsChunks } from '../../src/db/telemetry.js';
import { mulberry32 } from '../../scripts/make-pca-fixture.mjs';

const D = METRICS.length;
const ID = '0b8e6a52-1c7e-4d0b-9f3a-3c2f6d1e5a77';

/** Rows with awkward values: signs, zeros, subnormals, extremes, row ids beyond 2^32. */
function rowsOf(n: number, seed: number): { rowIds: number[]; data: Float64Array } {
  const r = mulberry32(seed);
  const special = [0, -0, 5e-324, -Number.MAX_VALUE, Number.MAX_VALUE, Infinity, -Infinity, 1 / 3];
  const rowIds: number[] = [];
  const data = new Float64Array(n * D);
  for (let i = 0; i < n; i++) {
    rowIds.push(i % 3 === 0 ? 2 ** 40 + i : i * 7);
    for (let j = 0; j < D; j++) {
      data[i * D + j] = r() < 0.1 ? special[Math.floor(r() * special.length)]! : (r() - 0.5) * 10 ** (j - 3);
    }
  }
  return { rowIds, data };
}

/** The bytes PostgreSQL sends for those rows: header (with `ext` extension bytes), tuples, trailer. */
function copyBytes(rowIds: number[], data: Float64Array, ext = 0): Buffer {
  const n = rowIds.length;
  const buf = Buffer.alloc(19 + ext + n * (2 + 12 + D * 12) + 2);
  buf.write('PGCOPY\n\xff\r\n\0', 0, 'latin1');
  buf.writeInt32BE(0, 11);
  buf.writeInt32BE(ext, 15);
  let o = 19 + ext;
  for (let i = 0; i < n; i++) {
    buf.writeInt16BE(1 + D, o);
    buf.writeInt32BE(8, o + 2);
    buf.writeBigInt64BE(BigInt(rowIds[i]!), o + 6);
    o += 14;
    for (let j = 0; j < D; j++) {
      buf.writeInt32BE(8, o);
      buf.writeDoubleBE(data[i * D + j]!, o + 4);
      o += 12;
    }
  }
  buf.writeInt16BE(-1, o);
  return buf;
}

/** A stand-in connection whose COPY hands out `pieces`, counting how many were read. */
function fakeClient(pieces: Buffer[]): { client: pg.Client; read: () => number } {
  let read = 0;
  const client = {
    on: () => client,
    off: () => client,
    query: () =>
      (async function* () {
        for (const p of pieces) {
          read += 1;
          yield await Promise.resolve(p);
        }
      })(),
  };
  return { client: client as unknown as pg.Client, read: () => read };
}

/** Cuts `bytes` at the given sizes, cycling through them. */
function cut(bytes: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0, k = 0; o < bytes.length; k++) {
    const len = sizes[k % sizes.length]!;
    out.push(Buffer.from(bytes.subarray(o, o + len)));
    o += len;
  }
  return out;
}

async function decodeAll(pieces: Buffer[], chunkRows: number) {
  const { client, read } = fakeClient(pieces);
  const blocks = [];
  for await (const b of readMetricsChunks(client, ID, { chunkRows })) blocks.push(b);
  return { blocks, read: read() };
}

describe('readMetricsChunks: binary COPY decoding', () => {
  const n = 257;
  const { rowIds, data } = rowsOf(n, 3);

  const cases: [string, number[], number][] = [
    ['the whole stream in one buffer', [1 << 20], 100],
    ['one byte at a time', [1], 64],
    ['buffers cutting tuples and doubles at varying places', [7, 110, 111, 3, 250, 109, 2], 33],
    ['buffers of many tuples, blocks filling mid-buffer', [1000, 4093], 10],
    ['a block of one row', [333], 1],
    ['a block larger than the dataset', [4096], 10_000],
  ];
  for (const [what, sizes, chunkRows] of cases) {
    it(`decodes every row exactly: ${what}`, async () => {
      const bytes = copyBytes(rowIds, data, sizes[0] === 1 ? 5 : 0);
      const pieces = cut(bytes, sizes);
      const { blocks, read } = await decodeAll(pieces, chunkRows);
      // The stream is read to its end (the connection must see the COPY finish).
      expect(read).toBe(pieces.length);
      const gotIds: number[] = [];
      const got: number[] = [];
      for (const b of blocks) {
        expect(b.matrix.rows).toBeLessThanOrEqual(chunkRows);
        expect(b.matrix.cols).toBe(D);
        expect(b.rowIds.length).toBe(b.matrix.rows);
        expect(b.matrix.data.length).toBe(b.matrix.rows * D);
        expect(b.firstRowId).toBe(b.rowIds[0]);
        gotIds.push(...b.rowIds);
        got.push(...b.matrix.data);
      }
      expect(blocks.slice(0, -1).every((b) => b.matrix.rows === chunkRows)).toBe(true);
      expect(gotIds).toEqual(rowIds);
      // Bit for bit, −0 included.
      expect(Buffer.from(Float64Array.from(got).buffer).equals(Buffer.from(data.buffer))).toBe(true);
    });
  }

  it('hands out blocks that stay intact while later ones are decoded', async () => {
    const { blocks } = await decodeAll(cut(copyBytes(rowIds, data), [500]), 16);
    const again = Float64Array.from(blocks.flatMap((b) => Array.from(b.matrix.data)));
    expect(Buffer.from(again.buffer).equals(Buffer.from(data.buffer))).toBe(true);
  });

  it('yields nothing for an empty result, even with the trailer split', async () => {
    const bytes = copyBytes([], new Float64Array(0));
    for (const sizes of [[bytes.length], [1], [20]]) {
      const { blocks } = await decodeAll(cut(bytes, sizes), 10);
      expect(blocks).toEqual([]);
    }
  });

  it('rejects a stream that is not binary COPY, and a tuple of the wrong width', async () => {
    await expect(decodeAll([Buffer.from('cpu_usage\tmemory_usage\n1\t2\n3\t4\n')], 10)).rejects.toThrow(
      'COPY TO returned data that is not binary COPY format',
    );
    const bytes = copyBytes(rowIds.slice(0, 2), data.subarray(0, 2 * D));
    bytes.writeInt16BE(3, 19 + 2 + 12 + D * 12);
    await expect(decodeAll(cut(bytes, [40]), 10)).rejects.toThrow(
      'COPY TO returned a tuple of 3 fields; expected 9',
    );
  });
});
