-- Metric sets are data: every dataset declares where its rows come from, its metrics in column
-- order and its text labels. Datasets made before this migration are the generator's: its eight
-- metrics and its labels project_id and region.
ALTER TABLE datasets
  ADD COLUMN source  text NOT NULL DEFAULT 'generator' CHECK (source IN ('generator', 'csv', 'smd')),
  ADD COLUMN metrics text[],
  ADD COLUMN labels  text[];

UPDATE datasets
   SET metrics = ARRAY['cpu_usage', 'memory_usage', 'disk_io', 'network_in', 'network_out',
                       'load_avg', 'latency_ms', 'error_rate'],
       labels  = ARRAY['project_id', 'region'];

ALTER TABLE datasets
  ALTER COLUMN source DROP DEFAULT,
  ALTER COLUMN metrics SET NOT NULL,
  ALTER COLUMN labels SET NOT NULL,
  ADD CONSTRAINT datasets_metrics_count CHECK (cardinality(metrics) BETWEEN 1 AND 1024),
  ADD CONSTRAINT datasets_labels_count CHECK (cardinality(labels) <= 16);
