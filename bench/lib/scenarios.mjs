/**
 * The measurements. Each scenario takes a session (a running bench Worker
 * that can be restarted) and answers raw per-repetition figures; run.mjs
 * summarizes them. Times are from just before the first request to the end
 * time the last run recorded itself (Stepflare: `runs.ended_at`; Workflows:
 * the instance's output), so polling cadence never enters a figure.
 */
import { floor, StepflareDriver, WorkflowsDriver } from "./engines.mjs";
import { getJson, mapLimit, postJson } from "./http.mjs";
import { quantile, summarize } from "./stats.mjs";

const FANOUT_IDS = Array.from({ length: 20 }, (_, k) => `bench-fanout-${String(k).padStart(2, "0")}`);

function check(wait, expected, what) {
  if (wait.timedOut || wait.completed !== expected) {
    console.warn(`  ! ${what}: ${wait.completed}/${expected} completed${wait.timedOut ? " (gave up waiting)" : ""}`);
  }
}

/**
 * Sends `count` events of `name` and waits for their runs of `fn`. `dataOf(i)`
 * adds fields of the i-th event's own; `objects` is how many Durable Objects
 * the burst creates, when flow control adds some to the runs'.
 */
export async function stepflareBurst(
  session,
  { name, fn, count, data = {}, dataOf = () => ({}), objects = count, perRequest = 100, concurrency = 1, path = "store" },
) {
  await session.ensureRoom(objects);
  const sf = new StepflareDriver(session.base);
  const cpu = session.cpuMs();
  const since = Date.now();
  const events = Array.from({ length: count }, (_, i) => ({ name, data: { ...data, ...dataOf(i), i } }));
  const latencies = await sf.send(events, { perRequest, concurrency, path });
  const acceptedMs = Date.now() - since;
  const wait = await sf.waitRuns([fn], since, count);
  check(wait, count, `${fn} x${count}`);
  return {
    since,
    cpuMs: session.cpuMs() - cpu,
    acceptedMs,
    latencies,
    completed: wait.completed,
    endMs: wait.lastEndedAt === null ? null : wait.lastEndedAt - since,
    execMs: wait.lastEndedAt === null ? null : wait.lastEndedAt - wait.firstStartedAt,
  };
}

async function workflowsBurst(session, { shape, n, count }) {
  await session.ensureRoom(count);
  const wf = new WorkflowsDriver(session.base);
  const cpu = session.cpuMs();
  const since = Date.now();
  const ids = await wf.create(shape, n, count);
  const wait = await wf.waitInstances(ids);
  check(wait, count, `workflow ${shape}(${n}) x${count}`);
  return { cpuMs: session.cpuMs() - cpu, completed: wait.completed, endMs: wait.lastEndedAt === null ? null : wait.lastEndedAt - since };
}

/**
 * 1. Ingest: single-event requests at concurrency 16, then requests of 100
 * events, each starting a one-step run. For context, the same loads with an
 * event no function subscribes to (the ingest path alone), and a trivial
 * route (the local HTTP floor).
 */
export async function ingest(session, { events, batchEvents, reps }) {
  const modes = [
    { key: "httpFloor", count: events, perRequest: 1, concurrency: 16, floor: true },
    { key: "batchFloor", name: "bench/unsubscribed", count: batchEvents, perRequest: 100, concurrency: 4, floor: true },
    { key: "singleAlone", name: "bench/unsubscribed", count: events, perRequest: 1, concurrency: 16 },
    { key: "batchAlone", name: "bench/unsubscribed", count: batchEvents, perRequest: 100, concurrency: 4 },
    { key: "singleAloneQueue", name: "bench/unsubscribed", count: events, perRequest: 1, concurrency: 16, path: "queue" },
    { key: "batchAloneQueue", name: "bench/unsubscribed", count: batchEvents, perRequest: 100, concurrency: 4, path: "queue" },
    { key: "single", name: "bench/ingest", fn: "bench-ingest", count: events, perRequest: 1, concurrency: 16 },
    { key: "batch", name: "bench/ingest", fn: "bench-ingest", count: batchEvents, perRequest: 100, concurrency: 4 },
    { key: "singleQueue", name: "bench/ingest", fn: "bench-ingest", count: events, perRequest: 1, concurrency: 16, path: "queue" },
    { key: "batchQueue", name: "bench/ingest", fn: "bench-ingest", count: batchEvents, perRequest: 100, concurrency: 4, path: "queue" },
  ];
  const out = {};
  for (const mode of modes) {
    // Each path answers the runtime's CPU for its burst, read after any restart for room.
    const once = async (count) => {
      if (mode.fn) return stepflareBurst(session, { ...mode, count });
      const cpu = session.cpuMs();
      const since = Date.now();
      let latencies = [];
      if (mode.floor && mode.perRequest === 1) {
        await mapLimit(Array.from({ length: count }), mode.concurrency, () => getJson(`${session.base}/bench/health`));
      } else if (mode.floor) {
        // The same bodies as ingest's requests of 100, to a route that only reads them.
        const bodies = Array.from({ length: count / mode.perRequest }, (_, b) =>
          Array.from({ length: mode.perRequest }, (_, i) => ({ name: mode.name, data: { i: b * mode.perRequest + i } })),
        );
        await mapLimit(bodies, mode.concurrency, (body) => postJson(`${session.base}/bench/sink`, body));
      } else {
        const events = Array.from({ length: count }, (_, i) => ({ name: mode.name, data: { i } }));
        latencies = await new StepflareDriver(session.base).send(events, mode);
      }
      return { acceptedMs: Date.now() - since, latencies, cpuMs: session.cpuMs() - cpu };
    };
    await once(mode.perRequest * 16); // warm-up
    const runs = [];
    for (let r = 0; r < reps; r++) runs.push(await once(mode.count));
    const all = runs.flatMap((b) => b.latencies);
    out[mode.key] = {
      events: mode.count,
      perRequest: mode.perRequest,
      concurrency: mode.concurrency,
      reps,
      requestsPerSec: summarize(runs.map((b) => (mode.count / mode.perRequest / b.acceptedMs) * 1000)),
      eventsPerSec: summarize(runs.map((b) => (mode.count / b.acceptedMs) * 1000)),
      latencyP50: quantile(all, 0.5),
      latencyP99: quantile(all, 0.99),
      cpuMsPerRequest: summarize(runs.map((b) => (b.cpuMs / mode.count) * mode.perRequest)),
      ...(mode.fn
        ? {
            completionMs: summarize(runs.map((b) => b.endMs)),
            expected: mode.count * reps,
            completed: runs.reduce((a, b) => a + b.completed, 0),
          }
        : {}),
    };
    console.log(
      `  ingest ${mode.key}: ${out[mode.key].requestsPerSec.median.toFixed(0)} requests/s, ${out[mode.key].eventsPerSec.median.toFixed(0)} events/s${mode.fn ? `, all runs ended at ${out[mode.key].completionMs.median} ms, ${out[mode.key].completed}/${out[mode.key].expected} completed` : ""}`,
    );
  }
  return out;
}

/**
 * 2. Fan-out: one event to 1, 4 and 20 subscribed functions; POST to the last
 * run's end. The floor: one request that creates as many bare SQLite-backed
 * objects, each writing one row (what any design with an object per run pays).
 */
export async function fanout(session, { reps }) {
  const sizes = [1, 4, 20];
  const sf = new StepflareDriver(session.base);
  const times = Object.fromEntries(sizes.map((s) => [s, []]));
  const floorTimes = Object.fromEntries(sizes.map((s) => [s, []]));
  let lost = 0;
  for (let r = -1; r < reps; r++) {
    for (const size of sizes) {
      await session.ensureRoom(2 * size);
      const since = Date.now();
      await sf.send([{ name: `bench/fanout.${size}` }], { perRequest: 1 });
      const wait = await sf.waitRuns(FANOUT_IDS.slice(0, size), since, size);
      check(wait, size, `fan-out to ${size}`);
      const floorStart = performance.now();
      await postJson(`${session.base}/bench/probe`, { count: size });
      const floorMs = performance.now() - floorStart;
      if (r < 0) continue; // warm-up
      lost += size - wait.completed;
      times[size].push(wait.lastEndedAt === null ? null : wait.lastEndedAt - since);
      floorTimes[size].push(floorMs);
    }
  }
  console.log(
    `  fan-out medians: ${sizes.map((s) => `${s}: ${summarize(times[s])?.median} ms (floor ${summarize(floorTimes[s])?.median.toFixed(1)})`).join(", ")}`,
  );
  return {
    reps,
    lost,
    ms: Object.fromEntries(sizes.map((s) => [s, summarize(times[s])])),
    floorMs: Object.fromEntries(sizes.map((s) => [s, summarize(floorTimes[s])])),
  };
}

/** One throughput burst in `session`: `count` one-step runs, one-step instances, or bare objects (the floor). */
function throughputBurst(session, engine, count) {
  if (engine === "stepflare") return stepflareBurst(session, { name: "bench/one-step", fn: "bench-one-step", count });
  if (engine === "workflows") return workflowsBurst(session, { shape: "one", n: 1, count });
  return (async () => {
    await session.ensureRoom(count);
    const cpu = session.cpuMs();
    const since = Date.now();
    await postJson(`${session.base}/bench/probe`, { count });
    return { cpuMs: session.cpuMs() - cpu, completed: count, endMs: Date.now() - since };
  })();
}

/**
 * 3. Throughput: `count` one-step runs (events in requests of 100), one-step
 * instances (createBatch of 100), or, as the floor, `count` bare SQLite-backed
 * objects each writing one row. Each engine has its own runtime process (its
 * own memory figure), all alive at once, and the repetitions alternate
 * between them, each repetition starting with the next engine: on a disk
 * whose cost of creating files drifts over minutes, every engine meets the
 * same drift, so their ratio in one run is not an artefact of which ran first.
 */
export async function throughput(sessions, { counts, reps }) {
  const engines = Object.keys(sessions);
  const out = Object.fromEntries(engines.map((e) => [e, {}]));
  for (const e of engines) await throughputBurst(sessions[e], e, 10); // warm-up
  for (const count of counts) {
    const acc = Object.fromEntries(engines.map((e) => [e, { rates: [], cpu: [], cores: [], completed: 0 }]));
    for (let r = 0; r < reps[count]; r++) {
      for (let k = 0; k < engines.length; k++) {
        const e = engines[(r + k) % engines.length];
        const b = await throughputBurst(sessions[e], e, count);
        acc[e].completed += b.completed;
        acc[e].rates.push(b.endMs ? (b.completed / b.endMs) * 1000 : null);
        acc[e].cpu.push(b.cpuMs / count);
        acc[e].cores.push(b.endMs ? b.cpuMs / b.endMs : null);
      }
    }
    for (const e of engines) {
      const a = acc[e];
      out[e][count] = {
        perSec: summarize(a.rates),
        cpuMsPerRun: summarize(a.cpu),
        cores: summarize(a.cores),
        reps: reps[count],
        expected: count * reps[count],
        completed: a.completed,
      };
      console.log(
        `  throughput ${e} ${count}: ${out[e][count].perSec?.median.toFixed(0)}/s (${a.completed}/${count * reps[count]} completed)`,
      );
    }
  }
  return out;
}

/** 4 and 5. One run of `shape` over N trivial steps; POST (or create) to the run's end. Floor beside Stepflare. */
export async function steps(session, engine, shape, { ns, reps }) {
  const out = {};
  const once = async (n) => {
    if (engine === "floor") return { endMs: await floor(session.base, shape, n) };
    if (engine === "workflows") return workflowsBurst(session, { shape, n, count: 1 });
    return stepflareBurst(session, { name: `bench/${shape}`, fn: `bench-${shape}`, count: 1, data: { n } });
  };
  await once(ns[0]); // warm-up
  for (const n of ns) {
    const runs = [];
    for (let r = 0; r < reps[n]; r++) runs.push(await once(n));
    out[n] = {
      ms: summarize(runs.map((b) => b.endMs)),
      ...(engine === "stepflare" ? { execMs: summarize(runs.map((b) => b.execMs)) } : {}),
      reps: reps[n],
      lost: runs.filter((b) => b.endMs === null).length,
    };
    console.log(`  ${shape} ${engine} N=${n}: ${out[n].ms?.median.toFixed(1)} ms`);
  }
  return out;
}

/**
 * 6. Dashboard pages' server time, measured inside the Worker (`/bench/timed`):
 * the runs page with 10,000 runs listed (seeded straight into D1), the
 * functions page counting them, and the run page of one 1,000-step run
 * (its first and last page of steps). Client-side times beside them include
 * local HTTP.
 */
export async function dashboard(session, { runs, steps, reps }) {
  await postJson(`${session.base}/bench/seed-runs`, { n: runs, functionId: "bench-one-step" });
  const burst = await stepflareBurst(session, { name: "bench/sequential", fn: "bench-sequential", count: 1, data: { n: steps } });
  const { runs: listed } = await getJson(`${session.base}/api/v1/runs?functionId=bench-sequential&limit=1`);
  const runId = listed[0]?.id;
  const pages = {
    [`runs page (${runs} runs listed)`]: "/dashboard/runs",
    "runs page, failed only": "/dashboard/runs?status=failed",
    "functions page (counts)": "/dashboard/functions",
    [`run page, ${steps} steps, first 100`]: `/dashboard/runs/${runId}`,
    [`run page, ${steps} steps, last 100`]: `/dashboard/runs/${runId}?steps=${Math.ceil(steps / 100)}`,
  };
  const out = { runs, steps, runCompleted: burst.completed === 1, pages: {} };
  for (const [label, path] of Object.entries(pages)) {
    await getJson(`${session.base}/bench/timed?path=${encodeURIComponent(path)}`); // warm-up
    const server = [];
    const client = [];
    let bytes = 0;
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      const t = await getJson(`${session.base}/bench/timed?path=${encodeURIComponent(path)}`);
      client.push(performance.now() - t0);
      if (t.status !== 200) throw new Error(`${path}: HTTP ${t.status}`);
      server.push(t.ms);
      bytes = t.bytes;
    }
    out.pages[label] = { serverMs: summarize(server), clientMs: summarize(client), bytes, reps };
    console.log(`  ${label}: server ${out.pages[label].serverMs.median.toFixed(1)} ms, ${Math.round(bytes / 1024)} KiB`);
  }
  return out;
}
