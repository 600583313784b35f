import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createEmptyDatabase } from '../helpers/db.js';

describe('test database', () => {
  it('gives each caller an empty database of its own', async () => {
    const a = await createEmptyDatabase();
    const b = await createEmptyDatabase();
    expect(a).not.toBe(b);
    const client = new pg.Client({ connectionString: a });
    await client.connect();
    const { rows } = await client.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'",
    );
    await client.end();
    expect(rows[0]?.n).toBe('0');
  });
});
