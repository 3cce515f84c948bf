-- Stepflare's D1 schema: the durable record of accepted events, the index of
-- runs for listing (Durable Objects cannot be enumerated), and dead letters.

CREATE TABLE events (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  payload TEXT NOT NULL,
  ts INTEGER NOT NULL,
  accepted_at INTEGER NOT NULL,
  dispatched_at INTEGER,
  -- times the sweeper re-enqueued this acceptance; it gives up after a few
  sweeps INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_undispatched ON events (accepted_at) WHERE dispatched_at IS NULL;

CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  function_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  error_code TEXT,
  version INTEGER NOT NULL
);
CREATE INDEX runs_newest ON runs (started_at DESC, id DESC);
CREATE INDEX runs_by_function ON runs (function_id, started_at DESC, id DESC);
CREATE INDEX runs_by_status ON runs (status, started_at DESC, id DESC);
CREATE INDEX runs_by_event ON runs (event_id);

CREATE TABLE dead_letters (
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  run_id TEXT,
  function_id TEXT,
  event_id TEXT,
  step_key TEXT,
  attempts INTEGER,
  error_name TEXT,
  error_message TEXT,
  error_code TEXT,
  error TEXT,
  body TEXT,
  failed_at INTEGER NOT NULL,
  replayed_at INTEGER,
  replay_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX dead_letters_by_time ON dead_letters (failed_at DESC, id DESC);
CREATE INDEX dead_letters_by_function ON dead_letters (function_id, failed_at DESC);
