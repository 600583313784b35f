/**
 * Fault 4: ids were taken as sent. A dataset's analytics read with its id in upper case were
 * cached under that spelling, and deleting the dataset forgot only the lower-case one, so the
 * upper-case answers outlived it. Ids are now normalised to lower case where they enter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Id } from '../../src/contract/common.js';
import { until } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

async function status(method: string, path: string): Promise<number> {
  const res = await fetch(`${srv.apiUrl}${path}`, { method });
  await res.arrayBuffer();
  return res.status;
}

describe('fault 4: one id, whatever its case', () => {
  it('the id schema accepts any case and gives lower case', () => {
    expect(Id.parse('0B6F8F5E-3C4E-4F8E-9A57-1C2D3E4F5A6B')).toBe('0b6f8f5e-3c4e-4f8e-9a57-1c2d3e4f5a6b');
    expect(Id.safeParse('0b6f8f5e-3c4e-4f8e-9a57-1c2d3e4f5a6').success).toBe(false);
  });

  it.each([
    ['lower', (id: string) => id],
    ['upper', (id: string) => id.toUpperCase()],
  ])('a dataset deleted by its %s-case id has no analytics under either spelling', async (_, spell) => {
    const created = await srv.client.createDataset({ host_count: 2, duration_s: 600, interval_s: 60 });
    await until(
      () => srv.client.getDataset(created.id),
      (d) => d.status === 'completed',
      50,
    );
    const lower = created.id;
    const upper = lower.toUpperCase();
    for (const id of [upper, lower]) {
      expect(await status('GET', `/datasets/${id}/summary`), id).toBe(200);
      expect(await status('GET', `/datasets/${id}/topk?column=region`), id).toBe(200);
    }

    const res = await fetch(`${srv.apiUrl}/datasets/${spell(lower)}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: lower, deleted: true });

    for (const id of [upper, lower]) {
      expect(await status('GET', `/datasets/${id}/summary`), id).toBe(404);
      expect(await status('GET', `/datasets/${id}/topk?column=region`), id).toBe(404);
      expect(await status('GET', `/datasets/${id}`), id).toBe(404);
    }
  });
});
