/**
 * Where a burst of one-step Stepflare runs spends workerd's CPU, by JS
 * function: a V8 CPU profile taken through Miniflare's inspector while 1,000
 * runs execute. Prints self time per function and, for SQLite statements,
 * per calling function. Not part of `npm run bench`; run it on its own:
 *
 *   npm run bench:cpu -- [--count=1000] [--persist-root=/dev/shm] [--tracing | --explorer | --observability] [--ingest [--path=queue]] [--flow=<option>]
 *
 * --ingest profiles the ingest path alone instead: `count` single-event
 * requests at concurrency 16 of an event no function subscribes to (as the
 * bench's "ingest alone"), per request rather than per run.
 *
 * --flow=concurrency (or any key of FLOW_VARIANTS in bench/worker/functions.ts)
 * profiles the same one-step runs through the function with that flow-control option.
 *
 * --tracing turns on Miniflare's local observability and explorer, as
 * wrangler dev does by default; --explorer or --observability turns on one
 * of them, to see what each costs.
 *
 * The time shown under the frame that calls an object's RPC method includes
 * the runtime's own work for that call (creating the object, serializing).
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { StepflareDriver } from "./lib/engines.mjs";
import { closeConnections } from "./lib/http.mjs";
import { cpuMsOf, freePort, LAUNCHERS, prepare, TMP } from "./lib/runtime.mjs";

const { values: args } = parseArgs({
  options: {
    count: { type: "string" },
    "persist-root": { type: "string" },
    tracing: { type: "boolean" },
    explorer: { type: "boolean" },
    observability: { type: "boolean" },
    ingest: { type: "boolean" },
    path: { type: "string" },
    flow: { type: "string" },
  },
});
const count = Number(args.count ?? 1000);
const persistRoot = path.resolve(args["persist-root"] ?? "/dev/shm");
const { template, bundle } = prepare({ logFile: path.join(TMP, "logs", "cpu-profile-prepare.log"), persistRoot });
const inspectorPort = await freePort();
const rt = await LAUNCHERS.miniflare.start({
  template,
  bundle,
  logFile: path.join(TMP, "logs", "cpu-profile.log"),
  inspectorPort,
  tracing: { explorer: Boolean(args.tracing || args.explorer), observability: Boolean(args.tracing || args.observability) },
});

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
async function connect(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => t.title?.includes("core:user:")) ?? targets[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", reject, { once: true });
  });
  let next = 0;
  const waiting = new Map();
  ws.addEventListener("message", (e) => {
    const m = JSON.parse(e.data);
    waiting.get(m.id)?.(m);
    waiting.delete(m.id);
  });
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const id = ++next;
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { call, close: () => ws.close() };
}

const label = (frame) => `${frame.functionName || "(anonymous)"} ${frame.url.split("/").slice(-1)[0]}:${frame.lineNumber}`;

function report(profile, ms, cpuMs) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const self = new Map();
  const sqlBy = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const node = nodes.get(id);
    const key = label(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + us);
    total += us;
    if (node.callFrame.functionName === "exec") {
      const caller = parent.get(node.id);
      const by = caller ? `${label(caller.callFrame)} <- ${parent.get(caller.id)?.callFrame.functionName || "?"}` : "?";
      sqlBy.set(by, (sqlBy.get(by) ?? 0) + us);
    }
  });
  const fmt = (us) =>
    `${(us / 1000).toFixed(1).padStart(8)} ms ${((us / count / 1000) * 1000).toFixed(0).padStart(5)} µs/${args.ingest ? "request" : "run"}`;
  const what = args.ingest ? "single-event requests (no subscriber)" : "one-step runs";
  console.log(
    `${count} ${what} in ${ms} ms; ${(total / 1000).toFixed(0)} ms sampled; workerd CPU (user + system) ${cpuMs} ms\n\nself time, top 25:`,
  );
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${fmt(us)}  ${k}`);
  console.log("\nSQLite statements (exec) by caller:");
  for (const [k, us] of [...sqlBy].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${fmt(us)}  ${k}`);
}

try {
  const inspector = await connect(inspectorPort);
  const sf = new StepflareDriver(rt.base);
  const name = args.flow ? `bench/flow.${args.flow}` : "bench/one-step";
  const fn = args.flow ? `bench-flow-${args.flow.toLowerCase()}` : "bench-one-step";
  // `burst` and `u` key the rate limit, idempotency and debounce options so that every run starts.
  const events = (n, tag) => Array.from({ length: n }, (_, i) => ({ name, data: { i, burst: tag, u: `${tag}-${i}` } }));
  let since = Date.now();
  await sf.send(events(100, "warm-up"), { perRequest: 100, concurrency: 4 });
  await sf.waitRuns([fn], since, 100);
  await inspector.call("Profiler.enable");
  await inspector.call("Profiler.setSamplingInterval", { interval: 100 });
  await inspector.call("Profiler.start");
  since = Date.now();
  const cpuBefore = cpuMsOf(rt.runtimePid);
  let ms;
  if (args.ingest) {
    await sf.send(
      Array.from({ length: count }, (_, i) => ({ name: "bench/unsubscribed", data: { i } })),
      { perRequest: 1, concurrency: 16, path: args.path ?? "store" },
    );
    ms = Date.now() - since;
  } else {
    await sf.send(events(count, "profiled"), { perRequest: 100, concurrency: 4 });
    const done = await sf.waitRuns([fn], since, count);
    if (done.completed !== count) throw new Error(`only ${done.completed} of ${count} runs completed`);
    ms = done.lastEndedAt - since;
  }
  const cpuMs = cpuMsOf(rt.runtimePid) - cpuBefore;
  const { result } = await inspector.call("Profiler.stop");
  inspector.close();
  report(result.profile, ms, cpuMs);
} finally {
  await rt.stop();
  closeConnections();
}
