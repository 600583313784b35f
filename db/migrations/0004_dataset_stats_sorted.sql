-- Each metric's values of a completed dataset, sorted and cut into chunks, written by the
-- analytics precompute (src/db/sorted-values.ts). A fleet-wide histogram over any range and with
-- any number of bins is counted exactly from the ranks of its edges: the chunk index (first_rank,
-- first_value, last_value) says which one chunk each edge falls in, and only those chunks are
-- read. Goes with its dataset's stats.
CREATE TABLE dataset_stats_sorted (
  dataset_id  uuid NOT NULL REFERENCES dataset_stats (dataset_id) ON DELETE CASCADE,
  metric      text NOT NULL,
  chunk       integer NOT NULL,
  -- Rank (0-based) of the chunk's first value among all the dataset's values of the metric.
  first_rank  bigint NOT NULL,
  first_value double precision NOT NULL,
  last_value  double precision NOT NULL,
  -- The chunk's values, ascending (NaN last): the first value, then the differences of their
  -- order-preserving 64-bit keys bit-packed at the chunk's widest (lossless; about half the
  -- size of the float64s on normal data). Layout in encodeSortedChunk of src/db/sorted-values.ts.
  data        bytea NOT NULL,
  PRIMARY KEY (dataset_id, metric, chunk)
);
-- Already packed: store it out of line without trying to compress it again.
ALTER TABLE dataset_stats_sorted ALTER COLUMN data SET STORAGE EXTERNAL;
