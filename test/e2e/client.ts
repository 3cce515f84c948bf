import type { RunDetail } from "../../src";

export type { RunDetail };

export interface EventDetail {
  event: { id: string; name: string; data: Record<string, unknown>; ts: number };
  acceptedAt: string;
  dispatched: boolean;
  runs: { id: string; functionId: string; status: string }[];
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it answers something other than undefined. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e) {
      lastError = e; // a connection refused while wrangler restarts, say
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ""}`);
    }
    await sleep(everyMs);
  }
}

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const PAUSED = new Set(["sleeping", "waiting"]);

/** Talks to one Stepflare over real HTTP: ingest and the management API. */
export class StepflareHttp {
  constructor(
    readonly baseUrl: string,
    readonly options: { eventKey?: string; apiKey?: string } = {},
  ) {}

  ingestUrl(eventKey?: string): string {
    return `${this.baseUrl}/e/${encodeURIComponent(eventKey ?? this.options.eventKey ?? "e2e-dev-key")}`;
  }

  /**
   * `POST /e/:eventKey`; answers the raw response. A string or bytes go as
   * they are, anything else as JSON. `contentType: null` sends no
   * Content-Type at all (bytes, so that fetch adds none either).
   */
  post(body: unknown, init: { eventKey?: string; contentType?: string | null } = {}): Promise<Response> {
    const text = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (init.contentType !== null) headers["content-type"] = init.contentType ?? "application/json";
    return fetch(this.ingestUrl(init.eventKey), {
      method: "POST",
      headers,
      body: init.contentType === null && typeof text === "string" ? new TextEncoder().encode(text) : text,
    });
  }

  /** Sends events and answers their ids; anything but a 200 throws. */
  async send(body: unknown): Promise<string[]> {
    const res = await this.post(body);
    const text = await res.text();
    if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${text}`);
    return (JSON.parse(text) as { ids: string[] }).ids;
  }

  /** Any JSON call: GET by default; a `json` body is sent as application/json. */
  async api<T = unknown>(
    path: string,
    init: { apiKey?: string | null; method?: string; json?: unknown } = {},
  ): Promise<{ status: number; body: T }> {
    const key = init.apiKey === undefined ? this.options.apiKey : init.apiKey;
    const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
    if (init.json !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${this.baseUrl}${path}`, {
      method: init.method ?? (init.json === undefined ? "GET" : "POST"),
      headers,
      ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  async event(id: string): Promise<EventDetail> {
    const { status, body } = await this.api<EventDetail>(`/api/v1/events/${encodeURIComponent(id)}`);
    if (status !== 200) throw new Error(`GET /api/v1/events/${id} answered ${status}: ${JSON.stringify(body)}`);
    return body;
  }

  async run(id: string): Promise<RunDetail> {
    const { status, body } = await this.api<RunDetail>(`/api/v1/runs/${encodeURIComponent(id)}`);
    if (status !== 200) throw new Error(`GET /api/v1/runs/${id} answered ${status}: ${JSON.stringify(body)}`);
    return body;
  }

  /**
   * Waits until the event is dispatched with `n` runs, each in a final state
   * (read from the run itself, not the index), and answers them by function id.
   */
  /** Waits until `n` runs of the event have ended and the rest are paused; answers the ended ones, by function. */
  async settledRuns(eventId: string, n: number, timeoutMs = 30_000): Promise<Map<string, RunDetail>> {
    return waitFor(
      async () => {
        const ev = await this.event(eventId);
        const details = await Promise.all(ev.runs.map((r) => this.run(r.id)));
        // Runs that sleep or wait for days (the example's trial-reminder) are not waited for: only the settled ones count.
        const settled = details.filter((d) => TERMINAL.has(d.status));
        if (settled.length < n || !details.every((d) => TERMINAL.has(d.status) || PAUSED.has(d.status))) return undefined;
        return new Map(settled.map((d) => [d.functionId, d]));
      },
      `${n} settled run(s) of event ${eventId}`,
      timeoutMs,
    );
  }
}
