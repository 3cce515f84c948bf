import { StepflareError } from "../../sdk/internal";
import { type Answer, type CallInput, callBody, readAnswer } from "./protocol";
import { canonicalJson, signatureHeader, verifySignature } from "./signature";
import type { RemoteTarget } from "./target";

/** How the engine reaches apps: the signing key (none only in dev mode) and how long one call may take. */
export interface CallOptions {
  signingKey: string | undefined;
  timeoutMs: number;
  /** The service binding a target with `binding` is called through (src/remote/bindings.ts). */
  service?: (binding: string) => Fetcher;
}

/** Where a call went, for errors: the app's origin and path, never its query or a key. */
const where = (url: URL) => `${url.origin}${url.pathname}`;

/**
 * One call to the app's serve URL: the body signed when a key is set (as
 * canonical JSON, which the SDK signs after parsing it), the answer's
 * signature verified, then classified. An app that refuses the signature
 * (401), or answers a result or ops without a valid one, is a
 * StepflareError: never retried, since no attempt could succeed with the
 * same keys. An unsigned error status is retried like any failed call.
 */
export async function callApp(target: RemoteTarget, stepId: string, input: CallInput, options: CallOptions): Promise<Answer> {
  const url = new URL(target.url);
  url.searchParams.set("fnId", target.slug);
  url.searchParams.set("stepId", stepId);
  const body = canonicalJson(callBody(input));
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-inngest-server-kind": options.signingKey ? "cloud" : "dev",
  };
  if (options.signingKey) headers["x-inngest-signature"] = await signatureHeader(body, options.signingKey);
  let res: Response;
  let text: string;
  const send = target.binding ? serviceOf(options, target.binding) : fetch;
  try {
    res = await send(url, { method: "POST", headers, body, signal: AbortSignal.timeout(options.timeoutMs) });
    text = await res.text();
  } catch (e) {
    throw Object.assign(new Error(`calling ${where(url)} failed: ${(e as Error).message}`), {
      name: "RemoteCallError",
      code: "remote_unreachable",
    });
  }
  if (res.status === 401) {
    throw new StepflareError(
      "remote_unauthorized",
      `the app at ${where(url)} refused the engine's request (401): it and the engine must share one signing key`,
    );
  }
  if (options.signingKey && !(await verifySignature(res.headers.get("x-inngest-signature"), text, options.signingKey))) {
    // An unsigned error (a proxy's 502, an outage) carries no data to trust or distrust: retried, its headers ignored.
    if (res.status >= 400) {
      const message = `${where(url)} answered HTTP ${res.status}, unsigned: ${text.slice(0, 200)}`;
      throw Object.assign(new Error(message), { name: "RemoteCallError" });
    }
    throw new StepflareError(
      "remote_signature_invalid",
      `the answer from ${where(url)} has no valid X-Inngest-Signature: it and the engine must share one signing key, and the app must not run in dev mode`,
    );
  }
  const answer = readAnswer(res.status, res.headers, text);
  if (answer.type === "malformed") throw new StepflareError("remote_protocol_error", `${where(url)} sent ${answer.why}`);
  return answer;
}

/**
 * The fetch of a target's service binding; a binding the engine lacks fails
 * the run with its code. The request gets the Host its URL names: a
 * binding's request has none, and the inngest SDK's Workers adapter needs one.
 */
function serviceOf(options: CallOptions, binding: string): typeof fetch {
  if (!options.service) throw new StepflareError("service_binding_missing", `the engine cannot reach service binding ${binding}`);
  const service = options.service(binding);
  return (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set("host", new URL(String(input)).host);
    return service.fetch(input, { ...init, headers });
  };
}
