/** HTTP helpers for driving a bench Worker from Node. */
import http from "node:http";

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// node:http with keep-alive rather than fetch: undici costs the client two to
// three times the CPU per request, and on a small machine the client shares
// the cores with the runtime it measures.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function request(method, url, body, extra = {}) {
  const u = new URL(url);
  const headers = {
    ...(body === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(body) }),
    ...extra,
  };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode >= 200 && res.statusCode < 300) resolve(JSON.parse(text));
        else reject(new Error(`${method} ${u.pathname}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

export const getJson = (url) => request("GET", url);
/** Closes the pooled connections, so the process can exit. */
export const closeConnections = () => agent.destroy();
export const postJson = (url, value, headers) => request("POST", url, JSON.stringify(value), headers);

/** Runs `fn` over `items` with at most `limit` calls in flight; answers results in order. */
export async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Polls `check` until it answers `{ done: true }`, with intervals growing by
 * half each time (5 ms up to 1 s): the figures come from timestamps recorded
 * inside the Worker, so polling only has to notice the end, not time it, and
 * a long run is polled a dozen times rather than hundreds.
 */
export async function pollUntil(check, { timeoutMs, stallMs = timeoutMs }) {
  const start = Date.now();
  let interval = 5;
  let last;
  let lastProgress = Date.now();
  let lastKey;
  for (;;) {
    last = await check();
    if (last.done) return { ...last, timedOut: false };
    if (last.progressKey !== lastKey) {
      lastKey = last.progressKey;
      lastProgress = Date.now();
    }
    if (Date.now() - start > timeoutMs || Date.now() - lastProgress > stallMs) return { ...last, timedOut: true };
    await sleep(interval);
    interval = Math.min(1000, interval * 1.5);
  }
}
