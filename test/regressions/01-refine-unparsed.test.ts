import { describe, expect, it } from 'vitest';
import { ListAlertsQuerySchema } from '../../src/contract/alerts.js';
import { TimeseriesQuerySchema } from '../../src/contract/analytics.js';
import { TrainRequestSchema } from '../../src/contract/models.js';

/** The messages of a failed parse (the parse itself must not throw). */
function messages(result: { success: boolean; error?: { issues: { message: string }[] } }): string[] {
  expect(result.success).toBe(false);
  return result.error!.issues.map((i) => i.message);
}

describe('fault 1: cross-field refinements never run on unparsed fields', () => {
  it('timeseries: one bad and one good bound is a 400 naming the bad one', () => {
    const result = TimeseriesQuerySchema.safeParse({
      metrics: 'cpu_usage',
      aggs: 'mean',
      bucket: '1h',
      from: 'x',
      to: '2024-01-01T05:00:00Z',
    });
    expect(messages(result)).toEqual(['from must be an RFC 3339 timestamp; got "x"']);
  });

  it('alerts: a bad host_id is not also reported as disagreeing with host', () => {
    const result = ListAlertsQuerySchema.safeParse({ host_id: 'x'.repeat(10_000), host: 'h1' });
    const got = messages(result);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(/^host_id/);
  });

  it('train: a bad variance is not also reported as clashing with n_components', () => {
    const result = TrainRequestSchema.safeParse({
      dataset_id: '6f1c2f3e-4d5a-4b6c-8d7e-9f0a1b2c3d4e',
      variance: 1.5,
      n_components: 3,
    });
    const got = messages(result);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(/^variance/);
  });
});
