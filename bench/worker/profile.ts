/**
 * Bench-only instrumentation, used by profiled.ts and never by index.ts:
 * proxies around the bindings and the run object's storage that time each
 * call (D1 statements, queue sends, object RPCs, SQLite statements, alarms)
 * into one table per isolate. workerd's clock ticks in whole milliseconds,
 * so a single short call reads 0 or 1 ms; summed over thousands of calls
 * the total is still an unbiased estimate.
 */
export interface Stat {
  n: number;
  ms: number;
  max: number;
}

const stats = new Map<string, Stat>();

export function record(label: string, ms: number): void {
  const s = stats.get(label) ?? { n: 0, ms: 0, max: 0 };
  s.n += 1;
  s.ms += ms;
  s.max = Math.max(s.max, ms);
  stats.set(label, s);
}

export const count = (label: string): void => record(label, 0);

export function takeStats(): Record<string, Stat> {
  const out = Object.fromEntries([...stats].sort((a, b) => b[1].ms - a[1].ms));
  stats.clear();
  return out;
}

/** Times `fn`, sync or async, under `label`. */
export function timed<T>(label: string, fn: () => T): T {
  const start = performance.now();
  const result = fn();
  if (result instanceof Promise) {
    return result.finally(() => record(label, performance.now() - start)) as T;
  }
  record(label, performance.now() - start);
  return result;
}

/** A short, stable name for a SQL statement: its verb and first table. */
export function sqlLabel(sql: string): string {
  const s = sql.replace(/\s+/g, " ").trim();
  const m =
    /^(INSERT OR REPLACE INTO|INSERT OR IGNORE INTO|INSERT INTO|UPDATE|DELETE FROM|SELECT .*? FROM|CREATE TABLE IF NOT EXISTS|SELECT)\s+(\w+)?/i.exec(
      s,
    );
  if (!m) return s.slice(0, 40);
  const verb = m[1]!.toUpperCase().startsWith("SELECT") ? "SELECT" : m[1]!.toUpperCase();
  return `${verb} ${m[2] ?? ""}`.trim();
}

const statementLabels = new WeakMap<object, string>();

function wrapStatement(stmt: D1PreparedStatement, label: string): D1PreparedStatement {
  const proxy = new Proxy(stmt, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "bind")
        return (...args: unknown[]) => wrapStatement(Reflect.apply(value as D1PreparedStatement["bind"], target, args), label);
      if (prop === "first" || prop === "all" || prop === "run" || prop === "raw") {
        return (...args: unknown[]) => timed(`d1 ${label}`, () => Reflect.apply(value as (...a: unknown[]) => unknown, target, args));
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  statementLabels.set(proxy, label);
  return proxy;
}

function wrapD1(db: D1Database): D1Database {
  return new Proxy(db, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "prepare") {
        return (sql: string) => {
          return wrapStatement(target.prepare(sql), sqlLabel(sql));
        };
      }
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          const label = statements.map((st) => statementLabels.get(st) ?? "?").join(" + ");
          return timed(`d1 batch [${label}]`, () => target.batch(statements));
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function wrapQueue(queue: Queue, name: string): Queue {
  return new Proxy(queue, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "send" || prop === "sendBatch") {
        return (...args: unknown[]) =>
          timed(`queue ${name}.${prop}`, () => Reflect.apply(value as (...a: unknown[]) => unknown, target, args));
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const RPC_METHODS = new Set(["start", "claimSteps", "completeSteps", "getDetail", "getDetailJson"]);

function wrapNamespace(ns: DurableObjectNamespace, name: string): DurableObjectNamespace {
  return new Proxy(ns, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "get") {
        return (...args: unknown[]) => {
          const stub = (value as (...a: unknown[]) => Record<string, (...a: unknown[]) => unknown>).apply(target, args);
          return new Proxy(stub, {
            get(s, method) {
              const fn = s[method as string];
              if (typeof method !== "string" || !RPC_METHODS.has(method) || typeof fn !== "function") return fn;
              return (...a: unknown[]) => timed(`rpc ${name}.${method}`, () => Reflect.apply(fn, s, a));
            },
          });
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The bindings, with every call the engine makes through them timed. */
export function wrapEnv<E extends object>(env: E): E {
  const e = env as Record<string, unknown>;
  return {
    ...e,
    DB: wrapD1(e.DB as D1Database),
    EVENTS: wrapQueue(e.EVENTS as Queue, "EVENTS"),
    STEPS: wrapQueue(e.STEPS as Queue, "STEPS"),
    FAILURES: wrapQueue(e.FAILURES as Queue, "FAILURES"),
    LISTING: wrapQueue(e.LISTING as Queue, "LISTING"),
    RUNS: wrapNamespace(e.RUNS as DurableObjectNamespace, "RUNS"),
  } as E;
}

/**
 * Times a run object's SQLite statements and alarm calls. The state itself
 * must stay the runtime's object (the base class checks its type), so the
 * storage gets own properties shadowing `sql` and the alarm methods.
 */
export function instrumentState(ctx: DurableObjectState): DurableObjectState {
  const storage = ctx.storage;
  const realSql = storage.sql;
  const sql = new Proxy(realSql, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "exec") {
        return (query: string, ...bindings: unknown[]) =>
          timed(`sql ${sqlLabel(query)}`, () => {
            // Reading the cursor here, so lazy SELECTs are timed too.
            const rows = target.exec(query, ...(bindings as SqlStorageValue[])).toArray();
            return { toArray: () => rows, one: () => rows[0], [Symbol.iterator]: () => rows[Symbol.iterator]() };
          });
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  Object.defineProperty(storage, "sql", { value: sql, configurable: true });
  for (const name of ["setAlarm", "deleteAlarm", "getAlarm"] as const) {
    const real = (storage[name] as (...a: unknown[]) => unknown).bind(storage);
    Object.defineProperty(storage, name, {
      value: (...args: unknown[]) => timed(`storage.${name}`, () => real(...args)),
      configurable: true,
    });
  }
  return ctx;
}
