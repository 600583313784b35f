/**
 * The cache of evaluations of completed jobs (src/jobs/evaluation.ts), without a database: a
 * computation is shared while under way and after, the least recently used goes first, a failed
 * one is not kept, and one job's entries can be forgotten alone.
 */
import { describe, expect, it } from 'vitest';
import { EvaluationCache } from '../../src/jobs/evaluation.js';

/** A compute function counting its calls. */
function counter(value: string) {
  const calls = { n: 0 };
  const compute = () => {
    calls.n += 1;
    return Promise.resolve(value);
  };
  return { calls, compute };
}

describe('EvaluationCache', () => {
  it('computes once per key, and shares the computation', async () => {
    const cache = new EvaluationCache();
    const { calls, compute } = counter('a');
    const [x, y] = await Promise.all([cache.get('j1:eval', compute), cache.get('j1:eval', compute)]);
    expect([x, y, await cache.get('j1:eval', compute)]).toEqual(['a', 'a', 'a']);
    expect(calls.n).toBe(1);
  });

  it('keeps the most recently used within its size', async () => {
    const cache = new EvaluationCache(2);
    const a = counter('a');
    const b = counter('b');
    const c = counter('c');
    await cache.get('a:eval', a.compute);
    await cache.get('b:eval', b.compute);
    await cache.get('a:eval', a.compute); // a is now the most recent
    await cache.get('c:eval', c.compute); // b goes
    expect(cache.size).toBe(2);
    await cache.get('a:eval', a.compute);
    await cache.get('b:eval', b.compute);
    expect([a.calls.n, b.calls.n, c.calls.n]).toEqual([1, 2, 1]);
  });

  it('does not keep a failed computation', async () => {
    const cache = new EvaluationCache();
    await expect(cache.get('j:eval', () => Promise.reject(new Error('lost')))).rejects.toThrow('lost');
    expect(cache.size).toBe(0);
    expect(await cache.get('j:eval', () => Promise.resolve('ok'))).toBe('ok');
  });

  it('forgets one job, or all', async () => {
    const cache = new EvaluationCache();
    await cache.get('j1:eval', () => Promise.resolve(1));
    await cache.get('j1:dist:region', () => Promise.resolve(2));
    await cache.get('j2:eval', () => Promise.resolve(3));
    cache.clear('j1');
    expect(cache.size).toBe(1);
    expect(await cache.get('j2:eval', () => Promise.resolve(0))).toBe(3);
    cache.clear();
    expect(cache.size).toBe(0);
  });
});
