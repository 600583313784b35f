import { describe, expect, it } from 'vitest';
import { DatabaseCheck, HEALTH_CHECK_TTL_MS } from '../../src/api/routes/health.js';
import type { Queryable } from '../../src/db/pool.js';

/** A database whose `SELECT 1` succeeds or fails on demand, counting calls. */
function fakeDb() {
  const db = {
    calls: 0,
    down: false,
    query() {
      db.calls += 1;
      return db.down ? Promise.reject(new Error('connect ECONNREFUSED')) : Promise.resolve({ rows: [] });
    },
  };
  return db;
}

describe('DatabaseCheck', () => {
  it('reports a failure, and never reuses one', async () => {
    const db = fakeDb();
    db.down = true;
    let now = 0;
    const check = new DatabaseCheck(db as unknown as Queryable, HEALTH_CHECK_TTL_MS, () => now);
    await expect(check.check()).rejects.toThrow('ECONNREFUSED');
    await expect(check.check()).rejects.toThrow('ECONNREFUSED');
    expect(db.calls).toBe(2);
    db.down = false;
    now = 5;
    expect(typeof (await check.check())).toBe('number');
    expect(db.calls).toBe(3);
  });

  it('reuses a success for the TTL from when its query was sent, then checks again', async () => {
    const db = fakeDb();
    let now = 1000;
    const check = new DatabaseCheck(db as unknown as Queryable, 1000, () => now);
    expect(check.check()).toBeInstanceOf(Promise);
    await check.check();
    expect(db.calls).toBe(1);
    now = 1999;
    expect(typeof check.check()).toBe('number'); // answered at once
    expect(db.calls).toBe(1);
    // A database that went down shows within the TTL.
    db.down = true;
    now = 2000;
    await expect(check.check()).rejects.toThrow('ECONNREFUSED');
    expect(db.calls).toBe(2);
  });

  it('runs one query for checks asked for while one is running', async () => {
    const db = fakeDb();
    const check = new DatabaseCheck(db as unknown as Queryable, 1000, () => 0);
    const all = await Promise.all([check.check(), check.check(), check.check()]);
    expect(db.calls).toBe(1);
    expect(new Set(all).size).toBe(1);
  });
});
