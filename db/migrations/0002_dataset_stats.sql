-- Dataset analytics computed once, when a dataset completes (src/db/analytics.ts). The answers
-- of GET /datasets/:id/summary, /topk, and the unfiltered /timeseries and /histogram at the
-- standard buckets, ranges and bin counts are read from here; filtered questions go to the rows.
-- Both tables go with their dataset.

CREATE TABLE dataset_stats (
  dataset_id     uuid PRIMARY KEY REFERENCES datasets (id) ON DELETE CASCADE,
  -- Layout version of what is stored: a row of another version is computed again when read.
  version        integer NOT NULL,
  -- The summary document (rows, hosts, time range, per-metric figures, anomaly counts).
  summary        jsonb NOT NULL,
  -- Every value's count per top-k column: { "host_id": [["host-1", 120], ...], ... }.
  topk           jsonb NOT NULL,
  -- Per metric: the minmax and p1p99 bounds and the counts at the standard bin numbers.
  histograms     jsonb NOT NULL,
  -- Buckets of each standard width ("60", "300", ...): their number, or null when over the cap
  -- (such a series is not stored and cannot be asked for without a narrower time range).
  series_buckets jsonb NOT NULL,
  compute_ms     double precision NOT NULL,
  computed_at    timestamptz NOT NULL DEFAULT now()
);

-- The unfiltered time series, one row per (dataset, bucket width, column): `start` (bucket
-- starts, epoch seconds), `count`, `anomalies`, and `<metric>.<agg>` for mean, min, max and p95.
-- `data` holds the column as little-endian float64s, one per bucket, in bucket order.
CREATE TABLE dataset_stats_series (
  dataset_id uuid NOT NULL REFERENCES dataset_stats (dataset_id) ON DELETE CASCADE,
  bucket_s   integer NOT NULL,
  name       text NOT NULL,
  data       bytea NOT NULL,
  PRIMARY KEY (dataset_id, bucket_s, name)
);
