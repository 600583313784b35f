import { describe, expect, it } from 'vitest';
import { Turns } from '../../src/core/turns.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Turns', () => {
  it('runs the work of one key in arrival order, never side by side', async () => {
    const turns = new Turns<object>();
    const key = {};
    const log: string[] = [];
    let running = 0;
    const work = (name: string) => async () => {
      running += 1;
      expect(running).toBe(1);
      log.push(`${name}:start`);
      await tick();
      log.push(`${name}:end`);
      running -= 1;
      return name;
    };
    const results = await Promise.all([
      turns.run(key, work('a')),
      turns.run(key, work('b')),
      turns.run(key, work('c')),
    ]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
  });

  it('does not hold one key up for another', async () => {
    const turns = new Turns<object>();
    const [k1, k2] = [{}, {}];
    let release!: () => void;
    const blocked = turns.run(k1, () => new Promise<void>((r) => (release = r)));
    await expect(turns.run(k2, () => Promise.resolve('free'))).resolves.toBe('free');
    release();
    await blocked;
  });

  it('goes on after a turn that fails, which rejects with its own error', async () => {
    const turns = new Turns<object>();
    const key = {};
    const failed = turns.run(key, () => Promise.reject(new Error('boom')));
    const next = turns.run(key, () => Promise.resolve(2));
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe(2);
  });
});
