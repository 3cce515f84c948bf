import type { Bindings, D1Binding, DurableObjectBinding, Migration, QueueConsumer, QueueProducer, R2Binding } from "./bindings";
import { COMPATIBILITY_FLAG, ENGINE_CRON, RUN_CLASSES } from "./bindings";

/** What a config lacks of the bindings, and what in it stands in their way. */
export interface Plan {
  conflicts: string[];
  addFlag: boolean;
  /** Whether `triggers.crons` lacks the engine's every-minute cron. */
  addCron: boolean;
  d1: D1Binding[];
  durableObjects: DurableObjectBinding[];
  migrations: Migration[];
  r2: R2Binding[];
  producers: QueueProducer[];
  consumers: QueueConsumer[];
}

type Table = Record<string, unknown>;

const tables = (value: unknown): Table[] =>
  Array.isArray(value) ? value.filter((v): v is Table => typeof v === "object" && v !== null) : [];
const table = (value: unknown): Table => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Table) : {});
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);

/**
 * Compares a parsed wrangler config with the bindings: what is there and
 * equal stays; what is missing is planned; what is there under the same
 * name but differs is a conflict, never overwritten. A D1 database's name
 * and id are the user's own (`wrangler d1 create` gives the id).
 */
export function planBindings(config: Table, want: Bindings): Plan {
  const plan: Plan = {
    conflicts: [],
    addFlag: false,
    addCron: false,
    d1: [],
    durableObjects: [],
    migrations: [],
    r2: [],
    producers: [],
    consumers: [],
  };

  if (config.compatibility_flags !== undefined && !Array.isArray(config.compatibility_flags)) {
    plan.conflicts.push("compatibility_flags is not an array");
  } else plan.addFlag = !strings(config.compatibility_flags).includes(COMPATIBILITY_FLAG);

  const triggers = table(config.triggers);
  if (triggers.crons !== undefined && !Array.isArray(triggers.crons)) plan.conflicts.push("triggers.crons is not an array");
  else plan.addCron = !strings(triggers.crons).includes(ENGINE_CRON);

  for (const d of want.d1_databases) {
    const have = tables(config.d1_databases).find((t) => t.binding === d.binding);
    if (!have) plan.d1.push(d);
    else if (have.migrations_dir !== d.migrations_dir) {
      plan.conflicts.push(
        `d1_databases: binding ${d.binding} has migrations_dir ${JSON.stringify(have.migrations_dir)}; Stepflare's tables need ${JSON.stringify(d.migrations_dir)}`,
      );
    }
  }

  const objects = tables(table(config.durable_objects).bindings);
  for (const o of want.durable_objects.bindings) {
    const have = objects.find((t) => t.name === o.name);
    if (!have) plan.durableObjects.push(o);
    else if (have.class_name !== o.class_name || have.script_name !== undefined) {
      plan.conflicts.push(
        `durable_objects: binding ${o.name} is class ${JSON.stringify(have.class_name)} here; Stepflare needs ${o.class_name}`,
      );
    }
  }

  const migrations = tables(config.migrations);
  const sqlite = new Set(migrations.flatMap((m) => strings(m.new_sqlite_classes)));
  const kv = new Set(migrations.flatMap((m) => strings(m.new_classes)));
  for (const c of RUN_CLASSES.filter((c) => kv.has(c))) {
    plan.conflicts.push(`migrations: ${c} is created with new_classes; Stepflare's objects need SQLite storage (new_sqlite_classes)`);
  }
  const missing = RUN_CLASSES.filter((c) => !sqlite.has(c) && !kv.has(c));
  if (missing.length > 0) {
    const tags = new Set(migrations.map((m) => m.tag));
    // A project with migrations of its own gets a tag that sorts after none of them by accident.
    const tag = migrations.length === 0 ? (want.migrations[0]?.tag ?? "v1") : "stepflare-v1";
    if (tags.has(tag)) plan.conflicts.push(`migrations: tag ${tag} exists but does not create ${missing.join(", ")}`);
    else plan.migrations.push({ tag, new_sqlite_classes: missing });
  }

  for (const b of want.r2_buckets) {
    const have = tables(config.r2_buckets).find((t) => t.binding === b.binding);
    if (!have) plan.r2.push(b);
    else if (have.bucket_name !== b.bucket_name) {
      plan.conflicts.push(
        `r2_buckets: binding ${b.binding} is bucket ${JSON.stringify(have.bucket_name)}; Stepflare needs ${b.bucket_name}`,
      );
    }
  }

  const queues = table(config.queues);
  const producers = tables(queues.producers);
  for (const p of want.queues.producers) {
    const have = producers.find((t) => t.binding === p.binding);
    if (!have) plan.producers.push(p);
    else if (have.queue !== p.queue) {
      plan.conflicts.push(`queues.producers: binding ${p.binding} sends to ${JSON.stringify(have.queue)}; Stepflare needs ${p.queue}`);
    }
  }

  const consumers = tables(queues.consumers);
  for (const c of want.queues.consumers) {
    const have = consumers.find((t) => t.queue === c.queue);
    if (!have) {
      plan.consumers.push(c);
      continue;
    }
    const differ = Object.entries(c).filter(([k, v]) => have[k] !== v);
    const extra = Object.keys(have).filter((k) => !(k in c));
    if (differ.length > 0 || extra.length > 0) {
      const parts = [
        ...differ.map(([k, v]) => `${k} = ${JSON.stringify(have[k])} (Stepflare pins ${JSON.stringify(v)})`),
        ...extra.map((k) => `${k} is set`),
      ];
      plan.conflicts.push(`queues.consumers: ${c.queue}: ${parts.join(", ")}`);
    }
  }
  return plan;
}

export const isEmpty = (p: Plan): boolean =>
  !p.addFlag && !p.addCron && [p.d1, p.durableObjects, p.migrations, p.r2, p.producers, p.consumers].every((a) => a.length === 0);
