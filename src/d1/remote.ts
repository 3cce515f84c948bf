/**
 * The `remote_apps` and `remote_functions` tables: apps that serve functions
 * over the Inngest protocol, and their functions as last synced. All of
 * their SQL is here.
 */

export interface RemoteAppRow {
  id: string;
  url: string;
  sdk: string | null;
  synced_at: number;
}

export interface RemoteFunctionRow {
  id: string;
  app_id: string;
  definition: string;
}

/** Every remote function, in id order. */
export async function loadRemoteFunctions(db: D1Database): Promise<RemoteFunctionRow[]> {
  return (await db.prepare("SELECT id, app_id, definition FROM remote_functions ORDER BY id").all<RemoteFunctionRow>()).results;
}

/** Every synced app, in id order. */
export async function loadRemoteApps(db: D1Database): Promise<RemoteAppRow[]> {
  return (await db.prepare("SELECT id, url, sdk, synced_at FROM remote_apps ORDER BY id").all<RemoteAppRow>()).results;
}

/** Of these function ids, those another app already holds, with that app. */
export async function functionsOfOtherApps(db: D1Database, appId: string, ids: string[]): Promise<RemoteFunctionRow[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .prepare("SELECT r.id, r.app_id, '' AS definition FROM remote_functions r, json_each(?1) j WHERE r.id = j.value AND r.app_id <> ?2")
    .bind(JSON.stringify(ids), appId)
    .all<RemoteFunctionRow>();
  return rows.results;
}

/** Stores the app and replaces its functions, in one transaction. */
export async function saveRemoteApp(
  db: D1Database,
  app: { id: string; url: string; sdk: string | null; syncedAt: number },
  functions: { id: string; definition: string }[],
): Promise<void> {
  await db.batch([
    db
      .prepare(
        "INSERT INTO remote_apps (id, url, sdk, synced_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(id) DO UPDATE SET url = ?2, sdk = ?3, synced_at = ?4",
      )
      .bind(app.id, app.url, app.sdk, app.syncedAt),
    db.prepare("DELETE FROM remote_functions WHERE app_id = ?1").bind(app.id),
    ...functions.map((f) =>
      db.prepare("INSERT INTO remote_functions (id, app_id, definition) VALUES (?1, ?2, ?3)").bind(f.id, app.id, f.definition),
    ),
  ]);
}

/** Removes an app and its functions; answers whether it was there. */
export async function removeRemoteApp(db: D1Database, appId: string): Promise<boolean> {
  const [, app] = await db.batch([
    db.prepare("DELETE FROM remote_functions WHERE app_id = ?1").bind(appId),
    db.prepare("DELETE FROM remote_apps WHERE id = ?1").bind(appId),
  ]);
  return (app?.meta.changes ?? 0) > 0;
}
