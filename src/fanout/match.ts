import type { StepflareFunction } from "../../sdk/internal";

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

/**
 * The functions registered with an engine, indexed for fan-out. Exact
 * triggers are a map lookup; patterns are tested in registration order.
 */
export class Registry {
  readonly #byId = new Map<string, StepflareFunction>();
  readonly #exact = new Map<string, StepflareFunction[]>();
  readonly #patterns: { test: (name: string) => boolean; fn: StepflareFunction }[] = [];

  constructor(functions: StepflareFunction[]) {
    for (const fn of functions) {
      if (fn?.kind !== "stepflare.function") throw new TypeError("createEngine: every entry of functions must come from createFunction()");
      const id = fn.config.id;
      if (this.#byId.has(id)) throw new TypeError(`createEngine: two functions share the id ${JSON.stringify(id)}`);
      this.#byId.set(id, fn);
      for (const { event } of fn.config.triggers) {
        if (event.includes("*")) this.#patterns.push({ test: compileTrigger(event), fn });
        else this.#exact.set(event, [...(this.#exact.get(event) ?? []), fn]);
      }
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

  /** Every function subscribed to `eventName`, each once, in registration order. */
  match(eventName: string): StepflareFunction[] {
    const found = new Set<StepflareFunction>(this.#exact.get(eventName) ?? []);
    for (const p of this.#patterns) if (p.test(eventName)) found.add(p.fn);
    return [...this.#byId.values()].filter((fn) => found.has(fn));
  }
}
