import { z } from "zod";
import { eventPayloadSchema } from "../../sdk/internal";
import type { EngineConfig } from "../config";
import { registerBody } from "../remote/register";
import { ULID_PATTERN } from "../shared/ulid";
import {
  appRegistered,
  appRemoved,
  appSynced,
  appsList,
  bulkReplayed,
  cancellationsDone,
  deadLettersPage,
  engineInfo,
  errorBody,
  eventDispatched,
  eventsAccepted,
  eventsPage,
  eventView,
  functionPaused,
  functionsList,
  runCancelled,
  runDetail,
  runReplayed,
  runsPage,
} from "./answers";
import { syncAppBody } from "./apps";
import { eventsBody } from "./event-schemas";
import { bulkReplayBody, cancellationsBody, deadLettersListQuery, eventsListQuery, runReplayBody, runsListQuery } from "./schemas";

/** One answer of an operation: its status's description and the body's schema (JSON unless `contentType` says otherwise, as a page would). */
export interface Answer {
  description: string;
  body: z.ZodType;
  contentType?: string;
}

/**
 * One route of the engine's HTTP API, described with the schemas it
 * validates with. The OpenAPI document is generated from this list, and the
 * workerd tests check it against the Hono app's routes both ways.
 */
export interface Operation {
  id: string;
  method: "get" | "post";
  /** Hono's form: `/api/v1/runs/:runId`. */
  path: string;
  summary: string;
  auth: "api-key" | "event-key" | "none";
  params?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  headers?: Record<string, z.ZodType>;
  body?: z.ZodType;
  responses: Record<number, Answer>;
}

const ok = (description: string, body: z.ZodType): Answer => ({ description, body });
const refused = (description: string, ...codes: [string, ...string[]]): Answer => ({ description, body: errorBody(codes) });

/** The register call's refusals, in the shape the SDK reads (`error` a string, led by the code) with the code beside it. */
const registerRefused = (description: string, ...codes: [string, ...string[]]): Answer => ({
  description,
  body: z.strictObject({ status: z.number().int(), error: z.string(), code: z.enum(codes) }),
});

const runId = z.string().regex(ULID_PATTERN).meta({ description: "a run's id (a ULID); any other text is 404 run_not_found" });
const eventId = z.string().min(1).meta({ description: "an event's id" });

const unauthorized = refused("no valid API key (outside dev mode): `Authorization: Bearer <API_KEY>`", "unauthorized");
const badQuery = refused("a parameter that is unknown, given twice, or not of its form", "invalid_query");
const badBody = refused(
  "a body that is not JSON or not UTF-8 (`invalid_json`), or a field that is unknown or not of its form",
  "invalid_json",
  "invalid_request",
);
const runNotFound = refused("no such run, or one deleted by retention (`run_expired`)", "run_not_found", "run_expired");
const eventNotFound = refused("no such event", "event_not_found");

/** Every route of the engine's HTTP API, for an engine built with `config`. */
export function operations(config: EngineConfig): Operation[] {
  const { maxEventsPerRequest, maxRequestBytes } = config.limits;
  return [
    {
      id: "sendEvents",
      method: "post",
      path: "/e/:eventKey",
      summary: "Accept one event or an array of events (Inngest's event API)",
      auth: "event-key",
      params: { eventKey: z.string().meta({ description: "one of EVENT_KEYS; any key in dev mode" }) },
      headers: {
        "x-inngest-event-id-seed": z
          .string()
          .meta({ description: "`<ms>,<entropy>`: ids derive from it and each event's index, so a retried send is deduplicated" }),
      },
      body: z.union([eventPayloadSchema, z.array(eventPayloadSchema).min(1).max(maxEventsPerRequest)]).meta({
        description: `one event or an array of 1-${maxEventsPerRequest}; the body at most ${maxRequestBytes} bytes`,
        jsonSchema: eventsBody(config),
      }),
      responses: {
        200: ok("the events are stored; one id per event, in order", eventsAccepted),
        400: refused(
          "not JSON or not UTF-8 (`invalid_json`); an event of the wrong shape, or refused by its schema (`invalid_event`)",
          "invalid_json",
          "invalid_event",
        ),
        401: refused("an event key not in EVENT_KEYS (outside dev mode)", "unauthorized"),
        413: refused(`a body over ${maxRequestBytes} bytes, or one event over 1,900,000 bytes as stored`, "payload_too_large"),
        415: refused("not `Content-Type: application/json`", "unsupported_media_type"),
        500: refused("the schema registered for an event's name gave an output that is not a JSON object", "invalid_schema_output"),
        503: refused("storage failed or did not confirm the write: send the events again", "ingest_unavailable"),
      },
    },
    {
      id: "listRuns",
      method: "get",
      path: "/api/v1/runs",
      summary: "List runs, newest first",
      auth: "api-key",
      query: runsListQuery,
      responses: { 200: ok("a page of runs", runsPage), 400: badQuery, 401: unauthorized },
    },
    {
      id: "getRun",
      method: "get",
      path: "/api/v1/runs/:runId",
      summary: "One run, its steps and its history, from its object",
      auth: "api-key",
      params: { runId },
      responses: { 200: ok("the run", runDetail), 401: unauthorized, 404: runNotFound },
    },
    {
      id: "replayRun",
      method: "post",
      path: "/api/v1/runs/:runId/replay",
      summary: "Replay one failed run",
      auth: "api-key",
      params: { runId },
      body: runReplayBody,
      responses: {
        200: ok("the run is running again", runReplayed),
        400: badBody,
        401: unauthorized,
        404: runNotFound,
        409: refused("the run is not failed", "run_not_failed"),
        503: refused("the run's object threw: call again", "replay_failed"),
      },
    },
    {
      id: "cancelRun",
      method: "post",
      path: "/api/v1/runs/:runId/cancel",
      summary: "Cancel one run that is still going",
      auth: "api-key",
      params: { runId },
      responses: {
        200: ok("the run is cancelled (now, or before)", runCancelled),
        401: unauthorized,
        404: runNotFound,
        409: refused("the run completed or failed", "run_not_cancellable"),
        503: refused("the run's object threw: call again", "cancel_failed"),
      },
    },
    {
      id: "cancelRuns",
      method: "post",
      path: "/api/v1/cancellations",
      summary: "Cancel a function's runs that are still going, started within a window",
      auth: "api-key",
      body: cancellationsBody,
      responses: {
        200: ok("how many were cancelled", cancellationsDone),
        400: refused(
          "a body that is not JSON, a field that is unknown or not of its form, or an `if` that is not CEL",
          "invalid_json",
          "invalid_request",
          "invalid_expression",
        ),
        401: unauthorized,
      },
    },
    {
      id: "listFunctions",
      method: "get",
      path: "/api/v1/functions",
      summary: "This engine's functions, their triggers and config, and their runs by status",
      auth: "api-key",
      responses: { 200: ok("every function", functionsList), 401: unauthorized },
    },
    ...(["pause", "resume"] as const).map(
      (action): Operation => ({
        id: `${action}Function`,
        method: "post",
        path: `/api/v1/functions/:functionId/${action}`,
        summary:
          action === "pause"
            ? "Pause a function: its events start no runs, each listed as skipped (`function_paused`); runs going carry on"
            : "Resume a paused function: events from now on start runs; those that came while it was paused stay skipped",
        auth: "api-key",
        params: { functionId: z.string().meta({ description: "a function's id" }) },
        responses: {
          200: ok(action === "pause" ? "paused (again: the first pause's time is kept)" : "resumed (or was not paused)", functionPaused),
          401: unauthorized,
          404: refused("no function with this id in this engine", "function_not_found"),
        },
      }),
    ),
    {
      id: "listEvents",
      method: "get",
      path: "/api/v1/events",
      summary: "List accepted events, newest first",
      auth: "api-key",
      query: eventsListQuery,
      responses: { 200: ok("a page of events", eventsPage), 400: badQuery, 401: unauthorized },
    },
    {
      id: "getEvent",
      method: "get",
      path: "/api/v1/events/:eventId",
      summary: "One event as stored, and its runs",
      auth: "api-key",
      params: { eventId },
      responses: { 200: ok("the event", eventView), 401: unauthorized, 404: eventNotFound },
    },
    {
      id: "dispatchEvent",
      method: "post",
      path: "/api/v1/events/:eventId/dispatch",
      summary: "Fan a stored event out again; functions that already have its run are not run again",
      auth: "api-key",
      params: { eventId },
      responses: {
        202: ok("the event is on the events queue", eventDispatched),
        401: unauthorized,
        404: eventNotFound,
        503: refused("the events queue did not take the event: call again", "dispatch_failed"),
      },
    },
    {
      id: "listDeadLetters",
      method: "get",
      path: "/api/v1/dead-letters",
      summary: "List dead letters, newest first",
      auth: "api-key",
      query: deadLettersListQuery,
      responses: { 200: ok("a page of dead letters", deadLettersPage), 400: badQuery, 401: unauthorized },
    },
    {
      id: "replayDeadLetters",
      method: "post",
      path: "/api/v1/dead-letters/replay",
      summary: "Replay the failed runs whose dead letters match, up to `limit` per call",
      auth: "api-key",
      body: bulkReplayBody,
      responses: { 200: ok("what became of each run chosen", bulkReplayed), 400: badBody, 401: unauthorized },
    },
    {
      id: "listApps",
      method: "get",
      path: "/api/v1/apps",
      summary: "The apps that serve functions over the Inngest protocol, with their functions",
      auth: "api-key",
      responses: { 200: ok("every synced app", appsList), 401: unauthorized },
    },
    {
      id: "syncApp",
      method: "post",
      path: "/api/v1/apps",
      summary: "Ask an app to sync: a PUT to its serve URL, as Inngest's dev server sends; answers once it has registered",
      auth: "api-key",
      body: syncAppBody,
      responses: {
        200: ok("the app synced", appSynced),
        400: refused(
          "a bad body, or the app's register call was refused",
          "invalid_json",
          "invalid_request",
          "invalid_register",
          "invalid_function",
          "invalid_expression",
          "invalid_cron",
          "function_id_taken",
          "app_sync_failed",
        ),
        401: unauthorized,
        403: refused(
          "the app's signing key is not the engine's, or the engine has none outside dev mode",
          "invalid_signing_key",
          "signing_key_missing",
        ),
        502: refused("the app did not answer, or failed", "app_unreachable", "app_sync_failed"),
      },
    },
    {
      id: "removeApp",
      method: "post",
      path: "/api/v1/apps/:appId/remove",
      summary: "Forget an app and its functions: new events start none of them; runs already going carry on",
      auth: "api-key",
      params: { appId: z.string().meta({ description: "the app's id" }) },
      responses: {
        200: ok("the app is removed", appRemoved),
        401: unauthorized,
        404: refused("no such app", "app_not_found"),
      },
    },
    {
      id: "registerApp",
      method: "post",
      path: "/fn/register",
      summary: "The `inngest` SDK's register call; authenticated by `Authorization: Bearer <hashed signing key>`, not the API key",
      auth: "none",
      body: registerBody,
      responses: {
        200: ok("the app and its functions are stored, replacing its last sync", appRegistered),
        400: registerRefused(
          "a body or a function config that does not hold",
          "invalid_register",
          "invalid_function",
          "invalid_expression",
          "invalid_cron",
        ),
        401: registerRefused("not the engine's signing key, or none set outside dev mode", "invalid_signing_key", "signing_key_missing"),
        409: registerRefused("a function id the engine or another app serves", "function_id_taken"),
      },
    },
    {
      id: "getOpenApi",
      method: "get",
      path: "/api/openapi.json",
      summary: "This document. Public: it holds no secrets",
      auth: "none",
      responses: { 200: ok("an OpenAPI 3.1 document", z.looseObject({ openapi: z.literal("3.1.0") })) },
    },
    {
      id: "getInfo",
      method: "get",
      path: "/",
      summary: "The engine's name and how many functions it serves",
      auth: "none",
      responses: { 200: ok("the engine", engineInfo) },
    },
  ];
}
