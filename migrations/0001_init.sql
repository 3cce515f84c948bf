-- Stepflare's D1 schema: the durable record of accepted events, the directory of
-- the run listing's shards (Durable Objects cannot be enumerated), and dead letters. Each table's SQL
-- lives in one module: src/d1/events.ts, src/d1/listing.ts, src/d1/dead-letters.ts.

CREATE TABLE events (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  payload TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  dispatched_at INTEGER,
  -- times the sweeper re-enqueued this acceptance; it gives up after a few
  sweeps INTEGER NOT NULL DEFAULT 0
);
-- The sweeper's index holds only events it may still re-enqueue. An event that
-- has used up its sweeps (5, MAX_SWEEPS in src/d1/events.ts) leaves it, so
-- abandoned events are no longer walked past on every sweep.
CREATE INDEX events_sweepable ON events (accepted_at, id) WHERE dispatched_at IS NULL AND sweeps < 5;
-- Events newest first (the events listing), and by name, newest first (search by name, a wait's look-back).
CREATE INDEX events_newest ON events (accepted_at DESC, id DESC);
CREATE INDEX events_by_name ON events (name, accepted_at DESC, id DESC);

-- The directory of the run listing's shards: the listing itself lives in
-- Durable Objects, one per hour and shard (src/listing/); each shard notes
-- itself here before its first row, so a reader asks only shards that hold rows.
CREATE TABLE listing_shards (
  bucket INTEGER NOT NULL,
  shard INTEGER NOT NULL,
  PRIMARY KEY (bucket, shard)
) WITHOUT ROWID;

CREATE TABLE dead_letters (
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  run_id TEXT,
  -- the version of the run that failed (a failed run's letters only); its id is `<run id>.<run version>`
  run_version INTEGER,
  function_id TEXT,
  event_id TEXT,
  step_key TEXT,
  attempts INTEGER,
  error_name TEXT,
  error_message TEXT,
  error_code TEXT,
  -- the stack of a failed run's error, when it had one
  error_stack TEXT,
  body TEXT,
  failed_at INTEGER NOT NULL,
  replayed_at INTEGER,
  replay_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX dead_letters_by_time ON dead_letters (failed_at DESC, id DESC);
CREATE INDEX dead_letters_by_function ON dead_letters (function_id, failed_at DESC);

-- Runs waiting for an event (step.waitForEvent), found by the event's name
-- and the value its `match` field must have: one row per pending wait.
CREATE TABLE waits (
  run_id TEXT NOT NULL,
  step_key TEXT NOT NULL,
  name TEXT NOT NULL,
  -- the `match` path ('' for none) and the trigger's value there, as JSON
  match_path TEXT NOT NULL,
  match_value TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (run_id, step_key)
);
CREATE INDEX waits_by_match ON waits (name, match_path, match_value);
-- Waits past their timeout, for the sweeper to delete.
CREATE INDEX waits_by_expiry ON waits (expires_at);
