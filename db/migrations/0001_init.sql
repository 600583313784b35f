-- TADS schema, version 1. Runs on PostgreSQL 15 and later.
-- Long-running work (dataset generation, training, scoring jobs) carries a lease: lease_owner is
-- the server process holding it and lease_expires_at is pushed forward by its heartbeat; a row
-- whose lease has expired while still pending or running belongs to nobody.

CREATE TABLE datasets (
  id               uuid PRIMARY KEY,
  name             text NOT NULL,
  status           text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
  error            text,
  params           jsonb NOT NULL,
  row_count        bigint NOT NULL DEFAULT 0,
  rows_total       bigint NOT NULL,
  host_count       integer NOT NULL,
  stats            jsonb,
  lease_owner      text,
  lease_expires_at timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz
);
CREATE INDEX datasets_created_idx ON datasets (created_at DESC, id DESC);
CREATE INDEX datasets_lease_idx ON datasets (lease_expires_at) WHERE status IN ('pending', 'running');

-- One partition per dataset (created by the ingest, dropped with the dataset): a failed or
-- deleted dataset's rows go with one DROP, and a dataset's rows are read without touching others.
CREATE TABLE host_telemetry_archival (
  dataset_id      uuid NOT NULL,
  row_id          bigint NOT NULL,
  ts              timestamptz NOT NULL,
  host_id         text NOT NULL,
  project_id      text NOT NULL,
  region          text NOT NULL,
  cpu_usage       double precision NOT NULL,
  memory_usage    double precision NOT NULL,
  disk_io         double precision NOT NULL,
  network_in      double precision NOT NULL,
  network_out     double precision NOT NULL,
  load_avg        double precision NOT NULL,
  latency_ms      double precision NOT NULL,
  error_rate      double precision NOT NULL,
  is_anomaly      boolean NOT NULL,
  anomaly_type    text CHECK (anomaly_type IN ('spike', 'drift', 'level_shift', 'stuck', 'noise_burst', 'correlation_break')),
  anomaly_episode integer,
  PRIMARY KEY (dataset_id, row_id)
) PARTITION BY LIST (dataset_id);

CREATE TABLE models (
  id               uuid PRIMARY KEY,
  name             text NOT NULL,
  status           text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
  error            text,
  dataset_id       uuid REFERENCES datasets (id) ON DELETE SET NULL,
  params           jsonb NOT NULL,
  model            jsonb,
  artifact_path    text,
  n_samples        bigint,
  timings          jsonb,
  progress         jsonb,
  lease_owner      text,
  lease_expires_at timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz
);
CREATE INDEX models_created_idx ON models (created_at DESC, id DESC);
CREATE INDEX models_lease_idx ON models (lease_expires_at) WHERE status IN ('pending', 'running');

CREATE TABLE inference_runs (
  id              uuid PRIMARY KEY,
  model_id        uuid NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  record_count    integer NOT NULL,
  invalid_count   integer NOT NULL,
  anomalous_count integer NOT NULL,
  latency_ms      double precision NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inference_runs_created_idx ON inference_runs (created_at DESC, id DESC);
CREATE INDEX inference_runs_model_idx ON inference_runs (model_id, created_at DESC);

CREATE TABLE jobs (
  id               uuid PRIMARY KEY,
  kind             text NOT NULL CHECK (kind IN ('score_dataset')),
  model_id         uuid NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  dataset_id       uuid NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  status           text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
  phase            text NOT NULL DEFAULT 'scoring' CHECK (phase IN ('scoring', 'alerts', 'done')),
  error            text,
  params           jsonb NOT NULL DEFAULT '{}',
  rows_total       bigint NOT NULL,
  rows_done        bigint NOT NULL DEFAULT 0,
  next_row_id      bigint NOT NULL DEFAULT 0,
  timings          jsonb,
  lease_owner      text,
  lease_expires_at timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz
);
CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_model_dataset_idx ON jobs (model_id, dataset_id, finished_at DESC);
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE status IN ('pending', 'running');

-- Per-record scores of a dataset job, one partition per job (a cancelled job's scores go with
-- one DROP). Logged, so scores are durable.
CREATE TABLE job_scores (
  job_id       uuid NOT NULL,
  row_id       bigint NOT NULL,
  fused        double precision,
  spe          double precision,
  t2           double precision,
  z_max        double precision,
  top_metric   smallint NOT NULL,
  is_anomalous boolean NOT NULL,
  PRIMARY KEY (job_id, row_id)
) PARTITION BY LIST (job_id);

-- Alerts from the live scorer (source 'live') and from dataset jobs (source = the job's id).
CREATE TABLE alerts (
  id          bigserial PRIMARY KEY,
  source      text NOT NULL,
  job_id      uuid REFERENCES jobs (id) ON DELETE CASCADE,
  model_id    uuid REFERENCES models (id) ON DELETE CASCADE,
  dataset_id  uuid REFERENCES datasets (id) ON DELETE CASCADE,
  host_id     text NOT NULL,
  state       text NOT NULL CHECK (state IN ('open', 'closed')),
  suppressed  boolean NOT NULL DEFAULT false,
  opened_at   timestamptz NOT NULL,
  closed_at   timestamptz,
  peak_score  double precision NOT NULL,
  top_metric  text,
  records     integer NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_source_idx ON alerts (source, opened_at DESC, id DESC);
CREATE INDEX alerts_host_idx ON alerts (host_id, opened_at DESC);
CREATE INDEX alerts_model_idx ON alerts (model_id, opened_at DESC);
CREATE INDEX alerts_opened_idx ON alerts (opened_at DESC, id DESC);
CREATE UNIQUE INDEX alerts_live_open_idx ON alerts (source, host_id) WHERE state = 'open' AND source = 'live';

-- Alerts held back by the storm cap, counted per source and calendar minute of telemetry time.
CREATE TABLE alert_suppressed_minutes (
  source   text NOT NULL,
  job_id   uuid REFERENCES jobs (id) ON DELETE CASCADE,
  minute   timestamptz NOT NULL,
  count    integer NOT NULL,
  PRIMARY KEY (source, minute)
);
