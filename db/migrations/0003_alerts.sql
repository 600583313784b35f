-- The alert store upserts alerts keyed by (source, host_id, opened_at): within a source a host
-- opens at most one alert per record time (the alert manager takes each (ts, host_id) once and
-- scorer shards own disjoint hosts), so this key identifies an alert across scorer restarts
-- without keeping the manager's local ids. It also serves "alerts of a host in a source" lookups.
CREATE UNIQUE INDEX alerts_source_host_opened_idx ON alerts (source, host_id, opened_at);
