-- TADS bootstrap, run by the migration runner before any migration (and safe to run again): the
-- table that records which migrations have been applied. Each migration in db/migrations/ runs
-- once, in order of its number, inside a transaction that also records it here; the runner holds
-- a PostgreSQL advisory lock meanwhile, so two processes starting at once apply each one once.
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
