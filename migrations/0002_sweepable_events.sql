-- The sweeper's index holds only events it may still re-enqueue. An event that
-- has used up its sweeps (5, MAX_SWEEPS in src/sweeper/object.ts) leaves it, so
-- abandoned events are no longer walked past on every sweep.
DROP INDEX events_undispatched;
CREATE INDEX events_sweepable ON events (accepted_at) WHERE dispatched_at IS NULL AND sweeps < 5;
