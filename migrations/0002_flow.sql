-- Flow control's D1 state: the functions an operator paused (POST /api/v1/functions/:id/pause).
-- Its SQL lives in src/d1/pauses.ts. Limits themselves live in StepflareFlow Durable Objects.

CREATE TABLE function_pauses (
  function_id TEXT PRIMARY KEY,
  paused_at INTEGER NOT NULL
);
