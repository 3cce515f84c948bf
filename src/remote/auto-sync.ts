import type { EngineConfig } from "../config";
import type { Env } from "../env";
import { isRemote } from "./registry";
import { syncService } from "./services";

/** After a failed sync, how long an isolate waits before its fan-out tries again. */
const RETRY_MS = 60_000;
/** How long a fan-out waits for a Worker to answer its sync. */
const TIMEOUT_MS = 5_000;

/** Per engine (one per isolate): when the last try began, and whether every listed service was synced. */
const tries = new WeakMap<EngineConfig, { at: number; ok: Promise<boolean> }>();

/**
 * Before an isolate's first fan-out, syncs each service in `services` whose
 * Worker has never been synced, so naming the binding is enough for a first
 * deploy. A service synced before is left as it is: after deploying its
 * Worker again, `POST /api/v1/apps` with `{ service }` syncs it. Never
 * throws: a failure is logged, and tried again a minute later.
 */
export async function syncNewServices(env: Env, config: EngineConfig, now = Date.now()): Promise<void> {
  if (config.services.length === 0) return;
  const last = tries.get(config);
  if (last && ((await last.ok) || now - last.at < RETRY_MS)) return;
  const ok = syncMissing(env, config);
  tries.set(config, { at: now, ok });
  await ok;
}

async function syncMissing(env: Env, config: EngineConfig): Promise<boolean> {
  try {
    const synced = new Set((await config.remote.registry(env.DB)).all().map((fn) => (isRemote(fn) ? fn.remote.binding : undefined)));
    const results = await Promise.all(
      config.services
        .filter((binding) => !synced.has(binding))
        .map((binding) =>
          syncService(env, config, binding, "/", TIMEOUT_MS).then(
            () => true,
            (e: Error & { code?: string }) => {
              console.error(`stepflare: syncing service ${binding} failed (${e.code ?? e.name}): ${e.message}`);
              return false;
            },
          ),
        ),
    );
    return results.every(Boolean);
  } catch (e) {
    console.error("stepflare: reading the synced services failed:", (e as Error).message);
    return false;
  }
}
