// Types of scripts/make-pca-fixture.mjs, for the tests that import its generator and its PRNG.
export declare const FIXTURE_ROWS: number;
export declare const FIXTURE_COLS: number;
export declare const FIXTURE_SEED: number;
export declare const FIXTURE_FIT_OPTIONS: { variance: number; trainedAt: string; datasetId: null };
export declare function mulberry32(seed: number): () => number;
export declare function generatePcaFixture(): {
  rows: number;
  cols: number;
  data: Float64Array;
  outlierRows: number[];
};
