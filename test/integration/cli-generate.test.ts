import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { captureIo } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

describe('tads generate', () => {
  it('exits 2 for a dataset the contract refuses, before calling the API', async () => {
    const c = captureIo();
    expect(
      await runCli(
        ['generate', '--hosts', '5', '--duration', '5', '--interval', '10', '--api', srv.apiUrl],
        c.io,
      ),
    ).toBe(2);
    expect(c.text.err).toContain('duration_s must be at least interval_s (10); got 5');
  });

  it('prints the dataset id, rows and rows/s as plain lines when piped', async () => {
    const c = captureIo();
    const code = await runCli(
      [
        'generate',
        '--hosts',
        '4',
        '--duration',
        '3600',
        '--interval',
        '60',
        '--seed',
        '7',
        '--api',
        srv.apiUrl,
      ],
      c.io,
    );
    expect(code).toBe(0);
    const m = /^dataset ([0-9a-f-]{36})\nrows {4}(\d+)\nrows\/s {2}(\d+|n\/a)\n$/.exec(c.text.out);
    expect(m).not.toBeNull();
    expect(Number(m![2])).toBe(240);
    expect(c.text.err).toMatch(/progress 100% 240\/240 rows/);
    const d = await srv.client.getDataset(m![1]!);
    expect(d).toMatchObject({ status: 'completed', row_count: 240 });
    expect(d.params).toMatchObject({ seed: 7, host_count: 4 });
  });

  it('prints one JSON document with --json and the seed underscore spellings', async () => {
    const c = captureIo();
    const code = await runCli(
      ['generate', '--hosts', '2', '--duration=600', '--interval', '60', '--api', srv.apiUrl, '--json'],
      c.io,
    );
    expect(code).toBe(0);
    const r = JSON.parse(c.text.out) as {
      id: string;
      status: string;
      rows: number;
      rows_per_s: number | null;
    };
    expect(r).toMatchObject({ status: 'completed', rows: 20 });
    expect(c.text.err).toBe('');
  });
});
