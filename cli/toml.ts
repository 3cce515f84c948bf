import { COMPATIBILITY_FLAG, ENGINE_CRON } from "./bindings";
import type { Plan } from "./plan";

const value = (v: unknown): string => JSON.stringify(v); // strings, numbers and string arrays: JSON's form is TOML's

function block(header: string, entry: object): string {
  const lines = Object.entries(entry)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} = ${value(v)}`);
  return `[[${header}]]\n${lines.join("\n")}\n`;
}

/** The planned tables as TOML, one array-of-tables entry each. */
export function renderTables(plan: Plan): string {
  return [
    ...plan.d1.map((d) => block("d1_databases", d)),
    ...plan.durableObjects.map((o) => block("durable_objects.bindings", o)),
    ...plan.migrations.map((m) => block("migrations", m)),
    ...plan.r2.map((b) => block("r2_buckets", b)),
    ...plan.producers.map((p) => block("queues.producers", p)),
    ...plan.consumers.map((c) => block("queues.consumers", c)),
  ].join("\n");
}

const FLAG_LINE = `compatibility_flags = [${value(COMPATIBILITY_FLAG)}]`;
const CRON_TABLE = `[triggers]\ncrons = [${value(ENGINE_CRON)}]\n`;
const TRIGGERS_HEADER = /^[ \t]*\[triggers\][ \t]*(#.*)?$/m;
const CRONS_KEY = /^([ \t]*crons[ \t]*=[ \t]*\[)/m;
const TABLE_HEADER = /^[ \t]*\[/m;
const FLAGS_KEY = /^([ \t]*compatibility_flags[ \t]*=[ \t]*\[)/m;

/**
 * The user's text with the plan added: the compatibility flag joins the
 * top-level `compatibility_flags` (or a new one before the first table), and
 * the tables are appended at the end. Nothing already there is rewritten;
 * the caller parses the result again to make sure it still holds.
 */
export function applyPlan(text: string, plan: Plan, hadFlags: boolean): string {
  let out = text;
  if (plan.addFlag) {
    if (hadFlags) out = out.replace(FLAGS_KEY, `$1${value(COMPATIBILITY_FLAG)}, `);
    else {
      const header = TABLE_HEADER.exec(out);
      out = header
        ? `${out.slice(0, header.index)}${FLAG_LINE}\n\n${out.slice(header.index)}`
        : `${out.replace(/\n*$/, "\n")}${FLAG_LINE}\n`;
    }
  }
  let tables = renderTables(plan);
  if (plan.addCron) {
    // Joins an existing [triggers] table's crons (the caller's re-parse checks it landed there), or adds the table.
    const header = TRIGGERS_HEADER.exec(out);
    if (header && CRONS_KEY.test(out.slice(header.index))) {
      const at = header.index;
      out = out.slice(0, at) + out.slice(at).replace(CRONS_KEY, `$1${value(ENGINE_CRON)}, `);
    } else if (header) {
      const end = header.index + header[0].length;
      out = `${out.slice(0, end)}\ncrons = [${value(ENGINE_CRON)}]${out.slice(end)}`;
    } else tables = `${tables}${tables ? "\n" : ""}${CRON_TABLE}`;
  }
  if (tables) out = `${out.replace(/\n*$/, "\n")}\n# Added by \`npx stepflare init\`: the bindings Stepflare's engine needs.\n${tables}`;
  return out;
}

/** What `--print` shows: the planned lines, flag first. */
export function printPlan(plan: Plan): string {
  const parts: string[] = [];
  if (plan.addFlag) parts.push(`# top level (add to compatibility_flags if you have one):\n${FLAG_LINE}\n`);
  const tables = renderTables(plan);
  if (tables) parts.push(tables);
  if (plan.addCron) parts.push(`# add to triggers.crons if you have it:\n${CRON_TABLE}`);
  return parts.join("\n");
}
