/**
 * 11. Remote steps (issue 20): the same N sequential trivial steps in a
 * function the engine runs itself (`bench-sequential`) and in one an app on
 * the official `inngest` SDK serves from this Node process over loopback
 * HTTP (`inngest/node`, dev mode, synced through POST /api/v1/apps). Trigger
 * → run completed; overhead per step (T(N) − T(1)) / (N − 1) for each, and
 * the remote figure beside the local one. The repetitions alternate between
 * the two, in one runtime.
 */
import { createServer } from "node:http";
import { Inngest } from "inngest";
import { serve } from "inngest/node";
import { postJson } from "./http.mjs";
import { stepflareBurst } from "./scenarios.mjs";
import { summarize } from "./stats.mjs";

const APP = "bench-app";
const EVENT = "bench/remote";

/** The app: one function of `event.data.n` sequential steps, each returning its index. */
async function startApp(engineUrl) {
  const client = new Inngest({ id: APP, baseUrl: engineUrl, isDev: true, logger: { info() {}, warn() {}, error() {}, debug() {} } });
  const seq = client.createFunction({ id: "sequential", triggers: [{ event: EVENT }] }, async ({ event, step }) => {
    let last = 0;
    for (let i = 0; i < event.data.n; i++) last = await step.run(`s${i}`, () => i);
    return last;
  });
  const server = createServer(serve({ client, functions: [seq] }));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}/api/inngest` };
}

export async function remote(session, { ns, reps }) {
  const app = await startApp(session.base);
  try {
    await postJson(`${session.base}/api/v1/apps`, { url: app.url });
    const kinds = {
      local: (n) => stepflareBurst(session, { name: "bench/sequential", fn: "bench-sequential", count: 1, data: { n } }),
      remote: (n) => stepflareBurst(session, { name: EVENT, fn: `${APP}-sequential`, count: 1, data: { n } }),
    };
    for (const run of Object.values(kinds)) await run(ns[0]); // warm-up
    const out = { local: {}, remote: {} };
    for (const n of ns) {
      const ms = { local: [], remote: [] };
      for (let r = 0; r < reps; r++) {
        for (const kind of r % 2 === 0 ? ["local", "remote"] : ["remote", "local"]) ms[kind].push((await kinds[kind](n)).endMs);
      }
      for (const kind of ["local", "remote"]) {
        out[kind][n] = { ms: summarize(ms[kind]), reps, lost: ms[kind].filter((m) => m === null).length };
        console.log(`  remote scenario, ${kind} N=${n}: ${out[kind][n].ms?.median.toFixed(1)} ms`);
      }
    }
    return out;
  } finally {
    app.server.close();
  }
}
