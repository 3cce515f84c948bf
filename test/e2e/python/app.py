"""
A Python app for the e2e tests: functions served over Inngest's protocol by
inngest_spec.py, standard library only. It prints `serving <url>` once it
listens; GET /counts answers how many times each step body ran, per order
(`<step>:<orderId>`), so that tests with orders of their own can run side by side.

  STEPFLARE_URL=http://127.0.0.1:8787 INNGEST_DEV=1 python3 test/e2e/python/app.py
"""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from inngest_spec import App, NonRetriableError  # noqa: E402

dev = os.environ.get("INNGEST_DEV", "") not in ("", "0", "false")
app = App(
    os.environ.get("APP_ID", "python-app"),
    os.environ["STEPFLARE_URL"],
    signing_key=os.environ.get("INNGEST_SIGNING_KEY") or None,
    dev=dev,
)

counts = {}
lock = threading.Lock()


def ran(name):
    with lock:
        counts[name] = counts.get(name, 0) + 1


@app.function("python-order", os.environ.get("ORDER_EVENT", "polyglot/order.placed"))
def order(event, step, **_):
    items = event["data"].get("items", [])

    def price():
        ran(f"price:{event['data'].get('orderId')}")
        return {"total": sum(i["price"] * i.get("qty", 1) for i in items)}

    priced = step.run("price", price)
    step.sleep("cool-off", "1s")

    def receipt():
        ran(f"receipt:{event['data'].get('orderId')}")
        return f"receipt {event['data'].get('orderId')}: {priced['total']}"

    return {"language": "python", "total": priced["total"], "receipt": step.run("receipt", receipt)}


@app.function("python-payment", os.environ.get("ORDER_EVENT", "polyglot/order.placed"))
def payment(event, step, **_):
    paid = step.wait_for_event("paid", "polyglot/order.paid", "30s", match="data.orderId")
    if event["data"].get("reject"):
        raise NonRetriableError("order rejected")
    return {"paid": None if paid is None else paid["data"]}


if __name__ == "__main__":
    server = app.serve("127.0.0.1", int(os.environ.get("PORT", "0")), extra_routes={"/counts": lambda: dict(counts)})
    print(f"serving {app.serve_url}", flush=True)
    server.serve_forever()
