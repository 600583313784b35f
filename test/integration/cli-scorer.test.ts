/**
 * `tads scorer [SHARD COUNT]` against a whole test server's generator and database: each of two
 * shards of one fleet is sent and scores only its own hosts (no foreign record), and stops after
 * `--duration` with its figures as JSON; and the error paths — a shard
 * outside the count (exit 2), a model file that does not exist (exit 2), an unknown model id and
 * an unreachable generator (exit 1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { trainedModel } from '../helpers/api.js';
import { captureIo } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let modelId: string;

beforeAll(async () => {
  srv = await startTestServer();
  const { model } = await trainedModel(srv.client, {
    host_count: 4,
    duration_s: 7200,
    interval_s: 60,
    anomaly_rate: 0,
  });
  modelId = model.id;
});
afterAll(async () => {
  await srv?.close();
});

/** The flags of a short run of the fleet's scorer against the test server. */
const fleet = () => [
  '--model',
  modelId,
  '--generator',
  srv.generatorAddress,
  '--db-conn',
  srv.databaseUrl,
  '--hosts',
  '6',
  '--interval',
  '60',
  '--rate',
  '3000',
  '--duration',
  '1.5',
  '--report-every',
  '60',
];

describe('tads scorer', () => {
  it('exits 2 for a shard outside the count, before opening anything', async () => {
    const c = captureIo();
    expect(await runCli(['scorer', '2', '2', ...fleet()], c.io)).toBe(2);
    expect(c.text.err).toContain('SHARD must be an integer in [0, 1] for COUNT 2; got 2');
  });

  it('exits 2 for a model file that does not exist, 1 for an unknown model id', async () => {
    const a = captureIo();
    const args = fleet();
    args[1] = 'no/such/model.json';
    expect(await runCli(['scorer', ...args], a.io)).toBe(2);
    expect(a.text.err).toContain('model file no/such/model.json cannot be read (ENOENT)');
    const b = captureIo();
    args[1] = '00000000-0000-4000-8000-000000000000';
    expect(await runCli(['scorer', ...args], b.io)).toBe(1);
    expect(b.text.err).toMatch(/tads scorer: .*00000000-0000-4000-8000-000000000000/);
  });

  it('exits 1 when the generator cannot be reached', async () => {
    const c = captureIo();
    const args = fleet();
    args[3] = '127.0.0.1:1';
    expect(await runCli(['scorer', ...args], c.io)).toBe(1);
    expect(c.text.err).toMatch(/^tads scorer: /m);
  });

  it('each of two shards scores its own hosts only, stops after --duration and reports JSON', async () => {
    const finals = [];
    for (const shard of ['0', '1']) {
      const c = captureIo();
      expect(await runCli(['scorer', shard, '2', ...fleet(), '--json'], c.io)).toBe(0);
      const last = c.text.out.trim().split('\n').at(-1)!;
      finals.push(
        JSON.parse(last) as { final: boolean; shard_index: number; records: number; foreign: number },
      );
    }
    for (const [i, f] of finals.entries()) {
      expect(f).toMatchObject({ final: true, shard_index: i, foreign: 0 });
      expect(f.records).toBeGreaterThan(0);
    }
  });
});
