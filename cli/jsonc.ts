import { applyEdits, type JSONPath, modify, type ParseError, parse, printParseErrorCode } from "jsonc-parser";
import { COMPATIBILITY_FLAG, ENGINE_CRON } from "./bindings";
import type { Plan } from "./plan";

const FORMAT = { formattingOptions: { insertSpaces: true, tabSize: 2, eol: "\n" } };

/** A wrangler.jsonc (or .json) as data; comments and trailing commas allowed, as wrangler allows them. */
export function parseJsonc(text: string): Record<string, unknown> {
  const errors: ParseError[] = [];
  const value = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) throw new Error(`${printParseErrorCode(errors[0]!.error)} at offset ${errors[0]!.offset}`);
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("the top level is not an object");
  return value as Record<string, unknown>;
}

const at = (config: Record<string, unknown>, path: string[]): unknown =>
  path.reduce<unknown>((v, k) => (typeof v === "object" && v !== null ? (v as Record<string, unknown>)[k] : undefined), config);

/**
 * The user's text with the plan added through jsonc-parser's edits, which
 * leave every other line, comment included, as it was: items join existing
 * arrays at their end; a missing array is created whole.
 */
export function applyPlanJsonc(text: string, plan: Plan, config: Record<string, unknown>): string {
  let out = text;
  const edit = (path: JSONPath, value: unknown, isArrayInsertion = false) => {
    out = applyEdits(out, modify(out, path, value, { ...FORMAT, isArrayInsertion }));
  };
  if (plan.addFlag) {
    if (Array.isArray(config.compatibility_flags)) edit(["compatibility_flags", 0], COMPATIBILITY_FLAG, true);
    else edit(["compatibility_flags"], [COMPATIBILITY_FLAG]);
  }
  if (plan.addCron) {
    const crons = at(config, ["triggers", "crons"]);
    if (Array.isArray(crons)) edit(["triggers", "crons", crons.length], ENGINE_CRON, true);
    else edit(["triggers", "crons"], [ENGINE_CRON]);
  }
  const lists: [string[], unknown[]][] = [
    [["d1_databases"], plan.d1],
    [["durable_objects", "bindings"], plan.durableObjects],
    [["migrations"], plan.migrations],
    [["r2_buckets"], plan.r2],
    [["queues", "producers"], plan.producers],
    [["queues", "consumers"], plan.consumers],
  ];
  for (const [path, items] of lists) {
    if (items.length === 0) continue;
    const existing = at(config, path);
    if (Array.isArray(existing)) {
      let index = existing.length;
      for (const item of items) edit([...path, index++], item, true);
    } else edit(path, items);
  }
  return out;
}

/** What `--print` shows for a JSON config: the planned entries, as wrangler.jsonc spells them. */
export function printPlanJson(plan: Plan): string {
  const out: Record<string, unknown> = {};
  if (plan.addFlag) out.compatibility_flags = [COMPATIBILITY_FLAG];
  if (plan.d1.length) out.d1_databases = plan.d1;
  if (plan.durableObjects.length) out.durable_objects = { bindings: plan.durableObjects };
  if (plan.migrations.length) out.migrations = plan.migrations;
  if (plan.r2.length) out.r2_buckets = plan.r2;
  if (plan.producers.length || plan.consumers.length) {
    out.queues = {
      ...(plan.producers.length ? { producers: plan.producers } : {}),
      ...(plan.consumers.length ? { consumers: plan.consumers } : {}),
    };
  }
  if (plan.addCron) out.triggers = { crons: [ENGINE_CRON] };
  return JSON.stringify(out, null, 2);
}
