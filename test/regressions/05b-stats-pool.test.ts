/**
 * Fault 5's pattern in the analytics precompute: a computation held its lock connection while it
 * waited for the dataset's advisory lock, and then asked for two more connections (indexes and
 * top-k counts side by side). A burst of requests for a dataset whose analytics were not yet
 * computed took every connection of the pool waiting for the lock, so the holder never got its
 * two more and every request failed at the acquire timeout. Now a computation waits for the lock
 * without holding a connection, and takes all three at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStats } from '../../src/db/dataset-stats.js';
import { newOwnerId } from '../../src/db/leases.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { generateDataset } from '../../src/generator/ingest.js';
import { computeDatasetStats } from '../../src/jobs/analytics.js';
import { createEmptyDatabase } from '../helpers/db.js';

let small: Pool;
beforeAll(async () => {
  small = createPool(await createEmptyDatabase(), { max: 4, connectionTimeoutMillis: 3000 });
  await migrate(small);
});
afterAll(async () => {
  await small?.end();
});

describe('analytics computations at once on a small pool', () => {
  it('all finish with the stats stored once, instead of starving the lock holder', async () => {
    const { datasetId } = await generateDataset(
      small,
      { name: 'stats-burst', hostCount: 3, seed: 5 },
      { owner: newOwnerId() },
    );
    expect(await readStats(small, datasetId)).toBeNull();
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => computeDatasetStats(small, datasetId)),
    );
    expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : r.status))).toEqual(
      results.map(() => 'fulfilled'),
    );
    expect(await readStats(small, datasetId)).not.toBeNull();
  });
});
