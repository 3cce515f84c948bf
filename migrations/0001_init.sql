-- Stepflare's D1 schema: the directories of the run listing's and the event
-- store's shards (Durable Objects cannot be enumerated), and dead letters. Each
-- table's SQL lives in one module: src/d1/shards.ts, src/d1/dead-letters.ts.

-- The directory of the run listing's shards: the listing itself lives in
-- Durable Objects, one per hour and shard (src/listing/); each shard notes
-- itself here before its first row, so a reader asks only shards that hold rows.
CREATE TABLE listing_shards (
  bucket INTEGER NOT NULL,
  shard INTEGER NOT NULL,
  PRIMARY KEY (bucket, shard)
) WITHOUT ROWID;

-- The directory of the event store's shards (src/events/): one row per hour
-- and shard that holds accepted events, the same way.
CREATE TABLE event_shards (
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
