import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fitPca, fitPcaAsync, type Matrix } from '../../src/index.js';
import { native } from '../../src/native/binding.js';

const dir = mkdtempSync(join(tmpdir(), 'tads-fault-11-'));
let pools = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Queues one open() of a FIFO per thread of the worker pool; each blocks its thread until a writer
 * opens the FIFO. The pool takes work in order, so work queued after this call cannot start
 * before `release()`: the test decides what happens before the fit runs, without relying on timing.
 */
function holdWorkerPool(): { release: () => Promise<void> } {
  const fifo = join(dir, `pool-${++pools}`);
  execFileSync('mkfifo', [fifo]);
  const threads = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const readers = Array.from({ length: threads }, () => open(fifo, 'r'));
  return {
    release: async () => {
      const writer = openSync(fifo, 'w');
      for (const handle of await Promise.all(readers)) await handle.close();
      closeSync(writer);
    },
  };
}

function rows(n: number): Matrix {
  const data = new Float64Array(n * 4);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < 4; j++) data[i * 4 + j] = Math.sin(i * 0.37 + j) * (j + 1) + Math.cos(i * 0.11 * j);
  return { rows: n, cols: 4, data };
}

const meta = { trainedAt: '2024-01-01T00:00:00.000Z' };

describe('fault 11: fitPcaAsync reads the rows as they were at the call', () => {
  it('the array transferred away and overwritten before the fit starts changes nothing', async () => {
    const m = rows(5000);
    const expected = fitPca(m, meta).toJSON();
    const pool = holdWorkerPool();
    const fitted = fitPcaAsync(m, meta);
    // The fit is queued behind the held threads: detach the caller's buffer and scribble over the
    // memory it owned (now the transfer's).
    const buffer = m.data.buffer as ArrayBuffer;
    const moved = structuredClone(buffer, { transfer: [buffer] });
    expect(m.data.length).toBe(0);
    new Float64Array(moved).fill(NaN);
    const [model] = await Promise.all([fitted, pool.release()]);
    expect(model.toJSON()).toEqual(expected);
  });

  it('raw addon: the same, and a detached array at the call is refused', async () => {
    const m = rows(3000);
    const options = {
      variance: 0.95,
      nComponents: 0,
      alpha: 0.001,
      zLimit: 6,
      speRule: 'jackson_mudholkar' as const,
      speQuantile: 0,
    };
    const expected = native.fit(m.data, m.rows, m.cols, options);
    const pool = holdWorkerPool();
    const fitted = native.fitAsync(m.data, m.rows, m.cols, options);
    const buffer = m.data.buffer as ArrayBuffer;
    new Float64Array(structuredClone(buffer, { transfer: [buffer] })).fill(1e300);
    const [result] = await Promise.all([fitted, pool.release()]);
    expect(result).toEqual(expected);
    expect(() => native.fitAsync(m.data, 3000, 4, options)).toThrow(
      new RangeError('data.length must equal rows * cols = 12000; got 0'),
    );
  });
});
