-- The events listing (GET /api/v1/events, the dashboard): newest accepted
-- first, all events or those of one name, walked by keyset on (accepted_at, id).
CREATE INDEX events_newest ON events (accepted_at DESC, id DESC);
CREATE INDEX events_by_name ON events (name, accepted_at DESC, id DESC);
