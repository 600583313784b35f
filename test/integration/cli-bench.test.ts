/**
 * `tads bench [N]`: scores exactly N records in ⌈N / batch⌉ native calls with the default-shaped
 * model, reports them as plain lines or JSON, refuses bad N (exit 2) and stops when interrupted
 * (exit 1, the report covering what was scored). Sizes are small: the figures themselves are not
 * asserted, only their consistency.
 */
import { describe, expect, it } from 'vitest';
import { runScoringBench, type BenchReport } from '../../src/cli/commands/bench.js';
import { runCli } from '../../src/cli/main.js';
import { captureIo } from '../helpers/cli.js';

describe('tads bench', () => {
  it('exits 2 for a record count that is not a positive integer, or a second argument', async () => {
    for (const [argv, message] of [
      [['bench', '0'], '--records must be an integer in [1, 1000000000]; got "0"'],
      [['bench', '1e3x'], 'got "1e3x"'],
      [['bench', '10', '20'], 'unexpected argument "20"'],
      [['bench', '--batch-size', '0'], '--batch-size must be an integer in [1, 1000000]'],
    ] as const) {
      const c = captureIo();
      expect(await runCli([...argv], c.io)).toBe(2);
      expect(c.text.err).toContain(message);
    }
  });

  it('scores exactly N records in batches and reports them as JSON', async () => {
    const c = captureIo();
    expect(await runCli(['bench', '20000', '--batch-size', '3000', '--json'], c.io)).toBe(0);
    const r = JSON.parse(c.text.out) as BenchReport;
    expect(r).toMatchObject({ records: 20_000, batch_size: 3000, batches: 7, invalid: 0, metrics: 8 });
    // The default-shaped model: k = 3 on normal telemetry (DESIGN.md), fitted on one day of 10 hosts.
    expect(r).toMatchObject({ n_components: 3, training_rows: 14_400 });
    expect(r.anomalous).toBeGreaterThanOrEqual(0);
    expect(r.anomalous).toBeLessThan(r.records);
    expect(r.seconds).toBeGreaterThan(0);
    expect(r.records_per_s).toBeCloseTo(r.records / r.seconds, 6);
    expect(c.text.err).toBe('');
  });

  it('prints plain lines and a progress line per tenth when piped', async () => {
    const c = captureIo();
    expect(await runCli(['bench', '--records', '5000', '--batch-size', '500'], c.io)).toBe(0);
    expect(c.text.out).toMatch(
      /^model {7}8 metrics, 3 components \(fitted on 14,400 generated rows\)\nrecords {5}5,000\nbatch size {2}500\n/,
    );
    expect(c.text.out).toMatch(/\nrecords\/s {3}[\d,]+\n/);
    expect(c.text.err).toContain('progress 100% 5000/5000 records');
  });

  it('draws the same records for the same seed', async () => {
    const a = await runScoringBench({ records: 4000, batchSize: 1000, seed: 5 });
    const b = await runScoringBench({ records: 4000, batchSize: 1000, seed: 5 });
    expect(b.anomalous).toBe(a.anomalous);
    expect(b.batches).toBe(4);
    await expect(runScoringBench({ records: 0, batchSize: 10, seed: 1 })).rejects.toThrow(
      'records must be an integer ≥ 1; got 0',
    );
  });

  it('stops at the next batch when interrupted and exits 1', async () => {
    const controller = new AbortController();
    const c = captureIo(controller.signal);
    // Interrupt once the first progress line is written (scoring yields between batches).
    c.io.err.on('data', () => controller.abort());
    expect(await runCli(['bench', '1000000', '--batch-size', '1000'], c.io)).toBe(1);
    const scored = Number(/\nrecords {5}([\d,]+)\n/.exec(c.text.out)![1]!.replaceAll(',', ''));
    expect(scored).toBeGreaterThan(0);
    expect(scored).toBeLessThan(1_000_000);
    expect(c.text.err).toContain(
      `tads bench: interrupted after ${scored.toLocaleString('en-US')} of 1,000,000 records`,
    );
  });
});
