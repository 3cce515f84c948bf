"""
A small Inngest SDK for Python, standard library only, written from Inngest's
published SDK specification (docs/SDK_SPEC.md in inngest/inngest). It serves
functions over the same HTTP protocol as the official SDKs: a PUT syncs the
app to the server's /fn/register, a POST is a call request answered with the
function's result (200), its next step ops (206) or an error. Steps: run,
sleep and wait_for_event, with hashed ids, memoized state and immediate
execution of a lone step. Enough to show one event fanning out to a Python
function on Stepflare; not a production SDK.
"""

import hashlib
import hmac
import json
import re
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SDK = "stepflare-spec-python:v0.1.0"
_MISSING = object()
_PREFIX = re.compile(r"^signkey-\w+-")


class NonRetriableError(Exception):
    """Raised by a function to fail its run without retries."""


class StepError(Exception):
    """A step that failed for good, as the server memoized it."""

    def __init__(self, error):
        super().__init__(error.get("message", "step failed"))
        self.error = error


class _Report(BaseException):
    """Stops the function: these step ops are the answer (206)."""

    def __init__(self, ops):
        super().__init__("report")
        self.ops = ops


def hash_id(text):
    return hashlib.sha1(text.encode()).hexdigest()


def serialize_error(e):
    if isinstance(e, StepError):
        return e.error
    return {"name": type(e).__name__, "message": str(e), "stack": traceback.format_exc()}


def sign(body, signing_key, ts):
    key = _PREFIX.sub("", signing_key).encode()
    return hmac.new(key, body + str(ts).encode(), hashlib.sha256).hexdigest()


def hashed_signing_key(signing_key):
    m = _PREFIX.match(signing_key)
    prefix = m.group(0) if m else ""
    return prefix + hashlib.sha256(bytes.fromhex(signing_key[len(prefix) :])).hexdigest()


class Step:
    """The step tools of one call request."""

    def __init__(self, memo, target, immediate):
        self._memo = memo
        self._target = target
        self._immediate = immediate
        self._seen = {}

    def _hash(self, step_id):
        n = self._seen.get(step_id, 0)
        self._seen[step_id] = n + 1
        return hash_id(step_id if n == 0 else f"{step_id}:{n}")

    def _memoized(self, h):
        if h not in self._memo:
            return _MISSING
        entry = self._memo[h]
        if isinstance(entry, dict) and list(entry) == ["error"]:
            raise StepError(entry["error"])
        if isinstance(entry, dict) and list(entry) == ["data"]:
            return entry["data"]
        return entry

    def _new_step(self, h):
        # Asked to run one planned step: any other new step means the code changed.
        if self._target not in (None, "step") and h != self._target:
            raise _Report([{"id": self._target, "op": "StepNotFound"}])

    def run(self, step_id, fn):
        h = self._hash(step_id)
        value = self._memoized(h)
        if value is not _MISSING:
            return value
        self._new_step(h)
        if self._target == h or self._immediate:
            try:
                data = fn()
            except Exception as e:  # reported; the server decides on a retry
                raise _Report([{"id": h, "op": "StepError", "displayName": step_id, "error": serialize_error(e)}])
            raise _Report([{"id": h, "op": "StepRun", "displayName": step_id, "data": data}])
        raise _Report([{"id": h, "op": "StepPlanned", "displayName": step_id}])

    def sleep(self, step_id, duration):
        h = self._hash(step_id)
        if self._memoized(h) is not _MISSING:
            return None
        self._new_step(h)
        raise _Report([{"id": h, "op": "Sleep", "displayName": step_id, "opts": {"duration": duration}}])

    def wait_for_event(self, step_id, event, timeout, match=None, if_=None):
        h = self._hash(step_id)
        value = self._memoized(h)
        if value is not _MISSING:
            return value
        self._new_step(h)
        expression = if_
        if match:
            same = f"event.{match} == async.{match}"
            expression = same if not expression else f"({same}) && ({expression})"
        opts = {"event": event, "timeout": timeout}
        if expression:
            opts["if"] = expression
        raise _Report([{"id": h, "op": "WaitForEvent", "displayName": step_id, "opts": opts}])


class Function:
    def __init__(self, fn_id, trigger, handler, retries=3):
        self.id = fn_id
        self.trigger = trigger
        self.handler = handler
        self.retries = retries


class App:
    """An app of functions served at one URL, synced to `api_origin`."""

    def __init__(self, app_id, api_origin, signing_key=None, dev=True):
        self.app_id = app_id
        self.api_origin = api_origin.rstrip("/")
        self.signing_key = signing_key
        self.dev = dev
        self.functions = {}
        self.serve_url = None

    def function(self, fn_id, trigger, retries=3):
        def wrap(handler):
            f = Function(fn_id, trigger, handler, retries)
            self.functions[f"{self.app_id}-{fn_id}"] = f
            return handler

        return wrap

    # ---- sync ---------------------------------------------------------------

    def register_body(self):
        functions = []
        for composite, f in self.functions.items():
            query = urllib.parse.urlencode({"fnId": composite, "stepId": "step"})
            functions.append(
                {
                    "id": composite,
                    "name": f.id,
                    "triggers": [{"event": f.trigger}],
                    "steps": {
                        "step": {
                            "id": "step",
                            "name": "step",
                            "runtime": {"type": "http", "url": f"{self.serve_url}?{query}"},
                            "retries": {"attempts": f.retries + 1},
                        }
                    },
                }
            )
        return {
            "url": self.serve_url,
            "deployType": "ping",
            "appName": self.app_id,
            "sdk": SDK,
            "v": "0.1",
            "framework": "python-http.server",
            "functions": functions,
        }

    def sync(self, server_kind=None):
        body = json.dumps(self.register_body()).encode()
        headers = {"content-type": "application/json", "x-inngest-sdk": SDK}
        if self.signing_key and not self.dev:
            headers["authorization"] = f"Bearer {hashed_signing_key(self.signing_key)}"
        if server_kind:
            headers["x-inngest-expected-server-kind"] = server_kind
        req = urllib.request.Request(f"{self.api_origin}/fn/register", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                answer = json.loads(res.read() or b"{}")
                return 200, {"message": "Successfully synced.", "modified": bool(answer.get("modified", False))}
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                message = json.loads(text).get("error", text)
            except ValueError:
                message = text
            return 500, {"message": str(message), "modified": False}

    # ---- calls --------------------------------------------------------------

    def verify(self, body, header):
        """Whether a call request is the server's: checked outside dev mode, as the spec requires."""
        if self.dev:
            return True
        if not self.signing_key or not header:
            return False
        params = urllib.parse.parse_qs(header)
        try:
            ts = int(params["t"][0])
            given = params["s"][0]
        except (KeyError, ValueError, IndexError):
            return False
        if abs(time.time() - ts) > 300:
            return False
        return hmac.compare_digest(sign(body, self.signing_key, ts), given)

    def call(self, query, body):
        """Runs one call request; answers (status, JSON value, extra headers)."""
        f = self.functions.get(query.get("fnId", [""])[0])
        if f is None:
            return 500, {"name": "Error", "message": "function not found in this app"}, {}
        payload = json.loads(body)
        ctx = payload.get("ctx") or {}
        target = query.get("stepId", ["step"])[0]
        immediate = target == "step" and not ctx.get("disable_immediate_execution", False)
        step = Step(payload.get("steps") or {}, target, immediate)
        try:
            result = f.handler(
                event=payload.get("event"), events=payload.get("events"), step=step, run_id=ctx.get("run_id"), attempt=ctx.get("attempt", 0)
            )
        except _Report as r:
            return 206, r.ops, {}
        except (NonRetriableError, StepError) as e:
            return 400, serialize_error(e), {"x-inngest-no-retry": "true"}
        except Exception as e:
            return 500, serialize_error(e), {"x-inngest-no-retry": "false"}
        if target not in ("step", None):
            # Asked to run one step, the function ended without reaching it.
            return 206, [{"id": target, "op": "StepNotFound"}], {}
        return 200, result, {}

    def introspection(self):
        return {
            "function_count": len(self.functions),
            "has_event_key": False,
            "has_signing_key": bool(self.signing_key),
            "mode": "dev" if self.dev else "cloud",
        }

    def handler_class(self, extra_routes=None):
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, value, headers=None):
                data = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("x-inngest-sdk", SDK)
                self.send_header("x-inngest-req-version", "1")
                if app.signing_key and not app.dev:
                    ts = int(time.time())
                    self.send_header("x-inngest-signature", f"t={ts}&s={sign(data, app.signing_key, ts)}")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self):
                return self.rfile.read(int(self.headers.get("content-length") or 0))

            def do_GET(self):
                path = urllib.parse.urlsplit(self.path).path
                if extra_routes and path in extra_routes:
                    return self._send(200, extra_routes[path]())
                self._send(200, app.introspection())

            def do_PUT(self):
                self._body()
                status, value = app.sync(self.headers.get("x-inngest-server-kind"))
                self._send(status, value)

            def do_POST(self):
                body = self._body()
                if not app.verify(body, self.headers.get("x-inngest-signature")):
                    return self._send(500, {"name": "Error", "message": "invalid or missing X-Inngest-Signature"}, {"x-inngest-no-retry": "false"})
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                status, value, headers = app.call(query, body)
                self._send(status, value, headers)

        return Handler

    def serve(self, host, port, path="/api/inngest", extra_routes=None):
        server = ThreadingHTTPServer((host, port), self.handler_class(extra_routes))
        self.serve_url = f"http://{host}:{server.server_address[1]}{path}"
        return server
