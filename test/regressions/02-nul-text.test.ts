import { describe, expect, it } from 'vitest';
import { ListAlertsQuerySchema } from '../../src/contract/alerts.js';
import { CreateDatasetRequestSchema } from '../../src/contract/datasets.js';
import { GenerateParamsSchema } from '../../src/contract/generator.js';
import { InferenceRecordWireSchema } from '../../src/contract/inference.js';
import { TrainRequestSchema } from '../../src/contract/models.js';
import { toErrorResponse } from '../../src/api/errors.js';
import { TadsError } from '../../src/core/errors.js';

const NUL = 'a\u0000b';
const ID = '6f1c2f3e-4d5a-4b6c-8d7e-9f0a1b2c3d4e';

/** The messages of a failed parse. */
function messages(result: { success: boolean; error?: { issues: { message: string }[] } }): string[] {
  expect(result.success).toBe(false);
  return result.error!.issues.map((i) => i.message);
}

describe('fault 2: NUL in text is refused where text enters', () => {
  it.each([
    ['POST /datasets name', () => CreateDatasetRequestSchema.safeParse({ name: NUL })],
    ['gRPC Generate name', () => GenerateParamsSchema.safeParse({ name: NUL })],
    ['POST /train name', () => TrainRequestSchema.safeParse({ dataset_id: ID, name: NUL })],
    ['GET /alerts host_id', () => ListAlertsQuerySchema.safeParse({ host_id: '\u0000' })],
    ['GET /alerts source', () => ListAlertsQuerySchema.safeParse({ source: NUL })],
    [
      'POST /infer host_id',
      () => InferenceRecordWireSchema.safeParse({ host_id: NUL, ts: '2024-01-01T00:00:00Z' }),
    ],
    [
      'POST /infer region',
      () => InferenceRecordWireSchema.safeParse({ host_id: 'h', ts: '2024-01-01T00:00:00Z', region: NUL }),
    ],
  ])('%s', (_, parse) => {
    expect(messages(parse())).toContainEqual(expect.stringMatching(/must not contain NUL \(U\+0000\)/));
  });
});

describe('fault 2: a 500 body never carries the error text', () => {
  it('an internal error, such as a database failure reported by the generator, says nothing more', () => {
    const pg = 'generator failed: invalid byte sequence for encoding "UTF8": 0x00';
    const { status, body, unexpected } = toErrorResponse(new TadsError('internal', pg));
    expect(status).toBe(500);
    expect(unexpected).toBe(true);
    expect(body).toEqual({ error: { code: 'internal', message: 'internal server error', details: null } });
  });
});
