import type { EngineConfig } from "../config";
import { toJsonSchema } from "./json-schema";
import { type Operation, operations } from "./operations";

type Json = Record<string, unknown>;

const DESCRIPTION = [
  "Durable, event-driven functions on Cloudflare Workers.",
  "`POST /e/{eventKey}` takes events (Inngest's event API); `/api/v1` manages runs, events and dead letters.",
  'Every error is `{"error":{"code":"…","message":"…"}}` with a stable `code`.',
  "In dev mode (`STEPFLARE_DEV=true`) any event key is accepted and `/api/v1` needs no key.",
].join(" ");

/** Hono's `/runs/:runId` as OpenAPI's `/runs/{runId}`. */
export const openApiPath = (path: string): string => path.replace(/:(\w+)/g, "{$1}");

function parameters(op: Operation): Json[] {
  const params = Object.entries(op.params ?? {}).map(([name, schema]) => ({
    name,
    in: "path",
    required: true,
    schema: toJsonSchema(schema),
  }));
  const headers = Object.entries(op.headers ?? {}).map(([name, schema]) => ({ name, in: "header", schema: toJsonSchema(schema) }));
  const query = op.query ? toJsonSchema(op.query) : {};
  const required = new Set((query.required as string[] | undefined) ?? []);
  const queryParams = Object.entries((query.properties as Record<string, Json> | undefined) ?? {}).map(([name, schema]) => ({
    name,
    in: "query",
    required: required.has(name),
    schema,
  }));
  return [...params, ...headers, ...queryParams];
}

function operationObject(op: Operation): Json {
  const parameterList = parameters(op);
  return {
    operationId: op.id,
    summary: op.summary,
    security: op.auth === "api-key" ? [{ apiKey: [] }] : [],
    ...(parameterList.length > 0 ? { parameters: parameterList } : {}),
    ...(op.body
      ? { requestBody: { required: op.id === "sendEvents", content: { "application/json": { schema: toJsonSchema(op.body) } } } }
      : {}),
    responses: Object.fromEntries(
      Object.entries(op.responses).map(([status, answer]) => [
        status,
        { description: answer.description, content: { [answer.contentType ?? "application/json"]: { schema: toJsonSchema(answer.body) } } },
      ]),
    ),
  };
}

/**
 * The engine's HTTP API as an OpenAPI 3.1 document, generated from the zod
 * schemas its routes validate with, for an engine built with `config` (its
 * limits appear in the document). Served at `GET /api/openapi.json`.
 */
export function openApiDocument(config: EngineConfig): Json {
  const paths: Record<string, Json> = {};
  for (const op of operations(config)) {
    const path = openApiPath(op.path);
    paths[path] = { ...paths[path], [op.method]: operationObject(op) };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Stepflare", version: "1", description: DESCRIPTION },
    components: {
      securitySchemes: {
        apiKey: { type: "http", scheme: "bearer", description: "`Authorization: Bearer <API_KEY>`; not needed in dev mode" },
      },
    },
    paths,
  };
}
