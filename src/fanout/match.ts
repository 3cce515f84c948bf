import { type CronSchedule, compileExpression, type Predicate, parseCron, type StepflareFunction } from "../../sdk/internal";

/** Compiles a trigger to a predicate: exact, or `*` standing for one or more of any character. */
export function compileTrigger(trigger: string): (name: string) => boolean {
  if (!trigger.includes("*")) return (name) => name === trigger;
  const source = trigger
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\/-]/g, "\\$&"))
    .join(".+");
  const re = new RegExp(`^${source}$`);
  return (name) => re.test(name);
}

/** One event trigger of a function: the function, and its `if` filter compiled once (none: every event of the name). */
interface EventTrigger {
  fn: StepflareFunction;
  filter: Predicate | undefined;
}

/** One cron trigger of a function, parsed once. */
export interface CronTrigger {
  fn: StepflareFunction;
  cron: string;
  schedule: CronSchedule;
}

/**
 * The functions registered with an engine, indexed for fan-out. Exact
 * triggers are a map lookup; patterns are tested in registration order.
 * `if` filters and cron schedules are compiled here, once per engine.
 */
export class Registry {
  readonly #byId = new Map<string, StepflareFunction>();
  readonly #exact = new Map<string, EventTrigger[]>();
  readonly #patterns: (EventTrigger & { test: (name: string) => boolean })[] = [];
  readonly #crons: CronTrigger[] = [];

  constructor(functions: StepflareFunction[]) {
    for (const fn of functions) {
      if (fn?.kind !== "stepflare.function") throw new TypeError("createEngine: every entry of functions must come from createFunction()");
      const id = fn.config.id;
      if (this.#byId.has(id)) throw new TypeError(`createEngine: two functions share the id ${JSON.stringify(id)}`);
      this.#byId.set(id, fn);
      fn.config.triggers.forEach((trigger, i) => {
        if ("cron" in trigger) {
          this.#crons.push({ fn, cron: trigger.cron, schedule: parseCron(trigger.cron, `triggers[${i}].cron`) });
          return;
        }
        const { event } = trigger;
        const entry = { fn, filter: trigger.if === undefined ? undefined : compileExpression(trigger.if, `triggers[${i}].if`) };
        if (event.includes("*")) this.#patterns.push({ ...entry, test: compileTrigger(event) });
        else this.#exact.set(event, [...(this.#exact.get(event) ?? []), entry]);
      });
    }
  }

  get(id: string): StepflareFunction | undefined {
    return this.#byId.get(id);
  }

  /** Every registered function, in registration order. */
  all(): StepflareFunction[] {
    return [...this.#byId.values()];
  }

  get size(): number {
    return this.#byId.size;
  }

  /**
   * Every function with a trigger on the event's name whose `if` (if any) is
   * true of it, each once, in registration order. A filter that fails to
   * evaluate (a missing field) counts as false.
   */
  match(event: { name: string }): StepflareFunction[] {
    const found = new Set<StepflareFunction>();
    const offer = (t: EventTrigger) => {
      if (!found.has(t.fn) && (t.filter === undefined || t.filter({ event }))) found.add(t.fn);
    };
    for (const t of this.#exact.get(event.name) ?? []) offer(t);
    for (const p of this.#patterns) if (p.test(event.name)) offer(p);
    if (found.size === 0) return [];
    return [...this.#byId.values()].filter((fn) => found.has(fn));
  }

  /** Every cron trigger, in registration order. */
  crons(): readonly CronTrigger[] {
    return this.#crons;
  }
}
