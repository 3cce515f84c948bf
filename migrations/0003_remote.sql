-- Apps that serve functions over the Inngest protocol (their SDK's serve()), and their functions.
-- A sync replaces an app's functions. Its SQL lives in src/d1/remote.ts.

CREATE TABLE remote_apps (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  sdk TEXT,
  synced_at INTEGER NOT NULL
);

CREATE TABLE remote_functions (
  id TEXT PRIMARY KEY,
  app_id TEXT NOT NULL,
  -- JSON: { name?, triggers, target } (src/remote/registry.ts)
  definition TEXT NOT NULL
);

CREATE INDEX remote_functions_by_app ON remote_functions (app_id);
