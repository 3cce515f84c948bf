import { Hono } from "hono";

/**
 * The dashboard's only client script: a page served with `data-live` fetches
 * itself again every so often and swaps in its new `#main`, keeping open
 * `<details>` open, until a version arrives without `data-live` (the run has
 * ended). Paused while the tab is hidden.
 */
const LIVE_JS = `"use strict";
(() => {
  const every = Number(document.body.dataset.live || 0);
  if (!every) return;
  const tick = async () => {
    if (!document.hidden) {
      try {
        const res = await fetch(location.href, { credentials: "same-origin", headers: { accept: "text/html" } });
        if (!res.ok) return schedule();
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        const next = doc.getElementById("main");
        const main = document.getElementById("main");
        if (next && main) {
          const open = new Set([...main.querySelectorAll("details[open][id]")].map((d) => d.id));
          for (const d of next.querySelectorAll("details[id]")) if (open.has(d.id)) d.setAttribute("open", "");
          main.replaceChildren(...[...next.childNodes].map((n) => document.adoptNode(n)));
        }
        if (!doc.body.dataset.live) { delete document.body.dataset.live; return; }
      } catch {}
    }
    schedule();
  };
  const schedule = () => setTimeout(tick, every);
  schedule();
})();
`;

const STYLE_CSS = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #6b7280; --bg: #fff; --panel: #f5f6f8; --line: #dde1e6;
  --accent: #e8590c; --ok: #2f9e44; --bad: #e03131; --run: #1971c2; --wait: #9c36b5; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8eb; --muted: #9aa1ab; --bg: #15171b; --panel: #1e2126; --line: #30353c; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 24px; padding: 10px 24px; border-bottom: 1px solid var(--line); background: var(--panel); }
header nav { display: flex; gap: 16px; flex: 1; }
header a { color: var(--fg); text-decoration: none; }
header a.current { font-weight: 600; border-bottom: 2px solid var(--accent); }
.brand { font-weight: 700; color: var(--accent); }
main { padding: 16px 24px 48px; max-width: 1400px; }
h1 { font-size: 20px; margin: 8px 0 12px; } h2 { font-size: 16px; margin: 24px 0 8px; }
a { color: var(--run); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: var(--panel); border: 1px solid var(--line); padding: 8px 10px; overflow: auto; max-height: 420px; margin: 4px 0; }
.muted { color: var(--muted); }
.status { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; background: var(--panel); border: 1px solid var(--line); }
.status-completed { color: var(--ok); } .status-failed { color: var(--bad); } .status-running, .status-queued { color: var(--run); }
.status-sleeping, .status-waiting { color: var(--wait); } .status-cancelled { color: var(--muted); }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: end; margin: 8px 0 16px; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
input, select, button { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); }
button { cursor: pointer; background: var(--panel); }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
form.inline { display: inline; }
.logout button { font-size: 12px; }
.error-box { border: 1px solid var(--bad); color: var(--bad); padding: 8px 12px; border-radius: 4px; }
.notice { border: 1px solid var(--ok); padding: 8px 12px; border-radius: 4px; }
.pager { display: flex; gap: 16px; margin: 12px 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 12px; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
.actions { display: flex; gap: 8px; margin: 8px 0 16px; }
.counts span { margin-right: 8px; white-space: nowrap; }
svg.timeline { width: 100%; display: block; background: var(--panel); border: 1px solid var(--line); }
svg.timeline rect.bar { fill: var(--run); }
svg.timeline rect.bar.completed { fill: var(--ok); } svg.timeline rect.bar.failed { fill: var(--bad); }
svg.timeline rect.bar.running, svg.timeline rect.bar.planned { fill: var(--run); }
svg.timeline rect.bar.sleeping, svg.timeline rect.bar.waiting { fill: var(--wait); }
svg.timeline text { font: 11px system-ui, sans-serif; fill: var(--fg); }
svg.timeline text.label { fill: #fff; pointer-events: none; }
svg.timeline line.grid { stroke: var(--line); }
.login { max-width: 360px; margin: 60px auto; display: flex; flex-direction: column; gap: 10px; }
details > summary { cursor: pointer; }
`;

/** `/dashboard/assets/*`: served by the Worker itself, so the dashboard needs no network but its own. */
export const assetRoutes = new Hono()
  .get("/style.css", (c) => c.body(STYLE_CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "max-age=300" }))
  .get("/live.js", (c) => c.body(LIVE_JS, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "max-age=300" }));
