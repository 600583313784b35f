/**
 * The binary COPY framing that job scores are written with and that evaluation and the alert
 * replay read back with (src/db/job-scores.ts), without a database: bad input first, then an
 * exact round trip of encodeScoresBinary through BinaryCopyParser fed in pieces of every size.
 */
import { describe, expect, it } from 'vitest';
import {
  BinaryCopyParser,
  encodeScoresBinary,
  jobScoresPartition,
  type ChunkScores,
} from '../../src/db/job-scores.js';

const JOB = '0b8f3c9e-4c1d-4e7a-9a51-2f6d8e0c1b2a';

function scores(): ChunkScores {
  return {
    fused: Float64Array.from([0.5, NaN, 1.25, Number.MIN_VALUE]),
    spe: Float64Array.from([0.1, NaN, 3e-300, 7]),
    t2: Float64Array.from([2, NaN, 0, 1 / 3]),
    zMax: Float64Array.from([1, NaN, 6.000000000000001, 0]),
    topMetric: Int32Array.from([3, -1, 0, 7]),
    anomalous: Uint8Array.from([0, 0, 1, 0]),
  };
}

/** Parses a payload fed in pieces of `step` bytes; returns each tuple's decoded fields. */
function parse(payload: Buffer, step: number): (number | string | null)[][] {
  const tuples: (number | string | null)[][] = [];
  const parser = new BinaryCopyParser(8, (buf, f) => {
    const len = (k: number) => f[2 * k + 1]!;
    const at = (k: number) => f[2 * k]!;
    const dbl = (k: number) => (len(k) < 0 ? null : buf.readDoubleBE(at(k)));
    tuples.push([
      buf.subarray(at(0), at(0) + 16).toString('hex'),
      Number(buf.readBigInt64BE(at(1))),
      dbl(2),
      dbl(3),
      dbl(4),
      dbl(5),
      buf.readInt16BE(at(6)),
      buf[at(7)]!,
    ]);
  });
  for (let o = 0; o < payload.length; o += step) parser.push(payload.subarray(o, o + step));
  expect(parser.ended).toBe(true);
  return tuples;
}

describe('job score partitions and COPY framing: bad input', () => {
  it('rejects a job id that is not a UUID, naming it', () => {
    expect(() => jobScoresPartition("x'; DROP TABLE jobs; --")).toThrow(
      `jobId must be a UUID; got "x'; DROP TABLE jobs; --"`,
    );
    expect(() => encodeScoresBinary('nope', new Float64Array(1), scores(), 1)).toThrow(
      'jobId must be a UUID; got "nope"',
    );
  });

  it('rejects a stream that is not binary COPY, and tuples of the wrong width', () => {
    expect(() => new BinaryCopyParser(8, () => {}).push(Buffer.alloc(40, 1))).toThrow(
      'not a binary COPY stream',
    );
    const payload = encodeScoresBinary(JOB, Float64Array.from([1]), scores(), 1);
    expect(() => new BinaryCopyParser(5, () => {}).push(payload)).toThrow(
      'binary COPY tuple has 8 fields; expected 5',
    );
  });
});

describe('encodeScoresBinary → BinaryCopyParser', () => {
  it('names partitions after the job id', () => {
    expect(jobScoresPartition(JOB.toUpperCase())).toBe('job_scores_0b8f3c9e4c1d4e7a9a512f6d8e0c1b2a');
  });

  it('round-trips every value exactly, NaN as NULL, whatever the piece size', () => {
    const rowIds = Float64Array.from([0, 1, 2 ** 40, 9_999_999]);
    const payload = encodeScoresBinary(JOB, rowIds, scores(), 4);
    const expected = [
      [JOB.replace(/-/g, ''), 0, 0.5, 0.1, 2, 1, 3, 0],
      [JOB.replace(/-/g, ''), 1, null, null, null, null, -1, 0],
      [JOB.replace(/-/g, ''), 2 ** 40, 1.25, 3e-300, 0, 6.000000000000001, 0, 1],
      [JOB.replace(/-/g, ''), 9_999_999, Number.MIN_VALUE, 7, 1 / 3, 0, 7, 0],
    ];
    for (const step of [1, 2, 3, 7, 19, 64, payload.length]) expect(parse(payload, step)).toEqual(expected);
  });

  it('encodes only the first `rows` rows', () => {
    const payload = encodeScoresBinary(JOB, Float64Array.from([5, 6, 7, 8]), scores(), 2);
    expect(parse(payload, 10).map((t) => t[1])).toEqual([5, 6]);
  });
});
