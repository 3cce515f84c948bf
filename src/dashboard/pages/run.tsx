import type { RunDetail } from "../../run/detail";
import { JsonView } from "../json-view";
import { Csrf, Status, Time } from "../layout";
import { formatDuration, layoutTimeline, shownStepStatus, stepPage } from "../timeline";
import { TimelineChart } from "./timeline-chart";

type Step = RunDetail["steps"][number];

const ms = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso));
const took = (s: { startedAt?: string; endedAt?: string }) =>
  s.startedAt && s.endedAt ? formatDuration((ms(s.endedAt) ?? 0) - (ms(s.startedAt) ?? 0)) : "";
/** Statuses of a run that is still going, which the Cancel button can stop. */
const GOING = new Set(["queued", "running", "sleeping", "waiting"]);

/** Why a run waits or was skipped, as the API says it: a held run (debounce) and a skipped one have no object behind them. */
type HeldOrSkipped = { queued?: { reason?: string; since?: string; startAt?: string }; skipped?: { reason: string; message: string } };

/** One run: its event, status, output or error, its replay or cancel actions, and its steps on a timeline, a page at a time. */
export function RunPage(p: {
  run: Omit<RunDetail, "queued"> & HeldOrSkipped;
  stepsPage: number;
  csrf: string;
  now: number;
  notice?: string;
}) {
  const { run } = p;
  const held = run.queued?.reason === "debounce" || run.queued?.reason === "batch";
  const range = stepPage(run.steps.length, p.stepsPage);
  const shown = run.steps.slice(range.first, range.last);
  const timeline = layoutTimeline(
    shown.map((s, i) => ({
      index: range.first + i,
      start: ms(s.startedAt),
      end: ms(s.endedAt),
      wakeAt: ms(s.wakeAt),
      failedAttempts: s.failedAttempts?.map((a) => ({ start: ms(a.startedAt), end: ms(a.endedAt) ?? 0 })),
    })),
    p.now,
    ms(run.endedAt),
  );
  const pageHref = (n: number) => `/dashboard/runs/${run.id}?steps=${n}`;
  return (
    <>
      <h1>
        Run <span class="mono">{run.id}</span> <Status status={run.status} />
      </h1>
      {p.notice && (
        <p class="notice" role="status">
          {p.notice}
        </p>
      )}
      <dl class="facts">
        <dt>Function</dt>
        <dd>
          <a href={`/dashboard/runs?functionId=${encodeURIComponent(run.functionId)}`} class="mono">
            {run.functionId}
          </a>
        </dd>
        <dt>Event</dt>
        <dd>
          <a href={`/dashboard/events/${run.eventId}`} class="mono">
            {run.eventId}
          </a>
        </dd>
        <dt>Started</dt>
        <dd>
          <Time iso={run.startedAt} />
        </dd>
        <dt>Ended</dt>
        <dd>
          <Time iso={run.endedAt} /> {run.endedAt && <span class="muted">({took(run)})</span>}
        </dd>
        <dt>Handler attempt</dt>
        <dd>{run.attempt}</dd>
        {run.queued?.reason && (
          <>
            <dt>Queued by</dt>
            <dd class="mono">{run.queued.reason}</dd>
          </>
        )}
        {run.skipped && (
          <>
            <dt>Skipped</dt>
            <dd>
              {run.skipped.message} (<span class="mono">{run.skipped.reason}</span>)
            </dd>
          </>
        )}
      </dl>
      {run.status === "failed" && (
        <form method="post" action={`/dashboard/runs/${run.id}/replay`} class="actions">
          <Csrf token={p.csrf} />
          <button type="submit" name="from" value="failed-step" class="primary">
            Replay from the failed step
          </button>
          <button type="submit" name="from" value="start">
            Replay from the start
          </button>
        </form>
      )}
      {GOING.has(run.status) && !held && (
        <form method="post" action={`/dashboard/runs/${run.id}/cancel`} class="actions">
          <Csrf token={p.csrf} />
          <button type="submit" class="danger cancel">
            Cancel this run
          </button>
        </form>
      )}
      {"output" in run && (
        <>
          <h2>Output</h2>
          <JsonView value={run.output} class="json run-output" />
        </>
      )}
      {run.error && (
        <>
          <h2>Error</h2>
          <p class="error-summary">
            {run.error.code && <code>{run.error.code}</code>} {run.error.name}: {run.error.message}
          </p>
          <JsonView value={run.error} class="json run-error" />
        </>
      )}
      {run.replays && (
        <>
          <h2>Replays</h2>
          <ul>
            {run.replays.map((r) => (
              <li>
                <Time iso={r.at} /> from {r.from}
                {r.previousError && <span class="muted"> — replaced: {r.previousError.message}</span>}
              </li>
            ))}
          </ul>
        </>
      )}
      <h2>
        Steps <span class="muted">{run.steps.length === 0 ? "none yet" : `${range.first + 1}–${range.last} of ${run.steps.length}`}</span>
      </h2>
      {range.pages > 1 && <Pager page={range.page} pages={range.pages} href={pageHref} />}
      <TimelineChart timeline={timeline} steps={run.steps} runStatus={run.status} />
      <StepTable steps={shown} first={range.first} runStatus={run.status} />
      {range.pages > 1 && <Pager page={range.page} pages={range.pages} href={pageHref} />}
    </>
  );
}

function Pager(p: { page: number; pages: number; href: (n: number) => string }) {
  return (
    <div class="pager steps-pager">
      {p.page > 1 && <a href={p.href(p.page - 1)}>Previous steps</a>}
      <span>
        page {p.page} of {p.pages}
      </span>
      {p.page < p.pages && (
        <a href={p.href(p.page + 1)} rel="next">
          Next steps
        </a>
      )}
    </div>
  );
}

function StepTable(p: { steps: Step[]; first: number; runStatus: string }) {
  return (
    <table class="steps">
      <thead>
        <tr>
          <th>#</th>
          <th>Step</th>
          <th>Status</th>
          <th>Attempts</th>
          <th>Started</th>
          <th>Took</th>
          <th>Output or error</th>
        </tr>
      </thead>
      <tbody>
        {p.steps.map((s, i) => (
          <tr data-step={s.key} data-status={shownStepStatus(s.status, p.runStatus)}>
            <td>{p.first + i + 1}</td>
            <td class="mono">
              {s.id}
              {s.key !== s.id && <div class="muted">{s.key}</div>}
            </td>
            <td>
              <Status status={shownStepStatus(s.status, p.runStatus)} />
            </td>
            <td>{s.type === "sleep" ? <span class="muted">sleep</span> : s.attempts}</td>
            <td>
              <Time iso={s.startedAt} />
            </td>
            <td>
              {took(s)}
              {shownStepStatus(s.status, p.runStatus) === "sleeping" && s.wakeAt && (
                <div class="muted">
                  wakes <Time iso={s.wakeAt} />
                </div>
              )}
            </td>
            <td>
              {s.failedAttempts && <FailedAttempts step={s} />}
              {s.error && (
                <details id={`error-${s.key}`} open={s.status === "failed"}>
                  <summary>
                    {s.status === "failed" ? "error" : `last attempt's error`}: {s.error.message}
                  </summary>
                  <JsonView value={s.error} class="json step-error" />
                </details>
              )}
              {"output" in s && (
                <details id={`output-${s.key}`}>
                  <summary>output</summary>
                  <JsonView value={s.output} class="json step-output" />
                </details>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A step's failed attempts, oldest first: when each ran, how long, and its error as JSON. */
function FailedAttempts(p: { step: Step }) {
  const list = p.step.failedAttempts ?? [];
  return (
    <details id={`attempts-${p.step.key}`} class="failed-attempts">
      <summary>
        {list.length} failed attempt{list.length === 1 ? "" : "s"}
      </summary>
      <ol>
        {list.map((a) => (
          <li data-attempt={String(a.attempt)}>
            attempt {a.attempt}, ended <Time iso={a.endedAt} /> <span class="muted">{took(a)}</span>
            <JsonView value={a.error} class="json attempt-error" />
          </li>
        ))}
      </ol>
    </details>
  );
}
