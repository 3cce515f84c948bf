import { Csrf, ErrorBox, Time } from "../layout";

export interface DeadLetter {
  id: string;
  source: string;
  runId: string | null;
  functionId: string | null;
  eventId: string | null;
  stepKey: string | null;
  attempts: number | null;
  error: { name: string | null; message: string | null; code?: string };
  failedAt: string;
  replayedAt?: string;
  replayCount: number;
}

export interface DeadLetterFilter {
  functionId?: string;
  code?: string;
  since?: string;
  until?: string;
}

const filterQuery = (f: DeadLetterFilter) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
  return q.toString();
};

/** The filter form shared by the list and the bulk replay's confirmation. */
function FilterFields(p: { filter: DeadLetterFilter; functionIds: string[] }) {
  const f = p.filter;
  return (
    <>
      <label>
        Function
        <select name="functionId">
          <option value="">any</option>
          {p.functionIds.map((id) => (
            <option value={id} selected={id === f.functionId}>
              {id}
            </option>
          ))}
        </select>
      </label>
      <label>
        Error code
        <input type="text" name="code" value={f.code ?? ""} placeholder="step_timeout" />
      </label>
      <label>
        Failed since (UTC)
        <input type="text" name="since" value={f.since ?? ""} placeholder="2026-01-31T12:00:00Z" />
      </label>
      <label>
        Failed before (UTC)
        <input type="text" name="until" value={f.until ?? ""} placeholder="ISO time or epoch ms" />
      </label>
    </>
  );
}

/** Dead letters, newest first, filtered as the API filters them; replay one run, or every run the filter selects. */
export function DeadLettersPage(p: {
  filter: DeadLetterFilter;
  functionIds: string[];
  letters: DeadLetter[];
  csrf: string;
  nextHref?: string;
  firstHref?: string;
  error?: { code: string; message: string };
}) {
  return (
    <>
      <h1>Dead letters</h1>
      <form method="get" action="/dashboard/dead-letters" class="filters">
        <FilterFields filter={p.filter} functionIds={p.functionIds} />
        <button type="submit">Filter</button>
      </form>
      <p>
        <a href={`/dashboard/dead-letters/replay?${filterQuery(p.filter)}`} class="bulk-replay">
          Replay every failed run this filter selects…
        </a>
      </p>
      {p.error && <ErrorBox {...p.error} />}
      {p.letters.length === 0 ? (
        <p class="muted">No dead letters.</p>
      ) : (
        <table class="dead-letters">
          <thead>
            <tr>
              <th>Failed</th>
              <th>Function</th>
              <th>Run or message</th>
              <th>Step</th>
              <th>Error</th>
              <th>Replay</th>
            </tr>
          </thead>
          <tbody>
            {p.letters.map((d) => (
              <tr data-dead-letter={d.id} data-run={d.runId ?? undefined}>
                <td>
                  <Time iso={d.failedAt} />
                </td>
                <td class="mono">{d.functionId ?? <span class="muted">{d.source}</span>}</td>
                <td>
                  {d.runId ? (
                    <a href={`/dashboard/runs/${d.runId}`} class="mono">
                      {d.runId}
                    </a>
                  ) : (
                    <span class="muted">{d.source} message</span>
                  )}
                </td>
                <td class="mono">
                  {d.stepKey ?? ""}
                  {d.attempts !== null && <div class="muted">{d.attempts} attempts</div>}
                </td>
                <td>
                  {d.error.code && <code>{d.error.code}</code>} {d.error.message}
                </td>
                <td>
                  {d.replayedAt ? (
                    <span class="muted">
                      replayed <Time iso={d.replayedAt} />
                    </span>
                  ) : d.runId && d.source === "run" ? (
                    <form method="post" action={`/dashboard/runs/${d.runId}/replay`} class="inline">
                      <Csrf token={p.csrf} />
                      <button type="submit" name="from" value="failed-step" class="replay">
                        Replay
                      </button>
                    </form>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        {p.firstHref && <a href={p.firstHref}>Newest</a>}
        {p.nextHref && (
          <a href={p.nextHref} rel="next">
            Older dead letters
          </a>
        )}
      </div>
    </>
  );
}

/** The bulk replay's confirmation: how many runs the filter selects, then one button. */
export function BulkReplayPage(p: {
  filter: DeadLetterFilter;
  functionIds: string[];
  count?: number;
  csrf: string;
  error?: { code: string; message: string };
}) {
  return (
    <>
      <h1>Replay dead-lettered runs</h1>
      <form method="get" action="/dashboard/dead-letters/replay" class="filters">
        <FilterFields filter={p.filter} functionIds={p.functionIds} />
        <button type="submit">Count</button>
      </form>
      {p.error && <ErrorBox {...p.error} />}
      {p.count !== undefined && (
        <form method="post" action="/dashboard/dead-letters/replay" class="actions">
          <Csrf token={p.csrf} />
          {Object.entries(p.filter).map(([k, v]) => v && <input type="hidden" name={k} value={v} />)}
          <p class="selected-count">
            This filter selects <strong>{p.count}</strong> failed {p.count === 1 ? "run" : "runs"} with unreplayed dead letters.
          </p>
          {p.count > 0 && (
            <>
              <select name="from">
                <option value="failed-step">from the failed step</option>
                <option value="start">from the start</option>
              </select>
              <button type="submit" class="primary">
                Replay {p.count} {p.count === 1 ? "run" : "runs"}
              </button>
            </>
          )}
        </form>
      )}
    </>
  );
}

/** What a bulk replay did. */
export function BulkResultPage(p: { replayed: number; skipped: number; failed: { runId: string; message: string }[]; more: boolean }) {
  return (
    <>
      <h1>Bulk replay</h1>
      <p class="notice" role="status">
        Replayed {p.replayed} {p.replayed === 1 ? "run" : "runs"}; skipped {p.skipped} (replayed already, or gone).
        {p.more && " More remain: run it again."}
      </p>
      {p.failed.length > 0 && (
        <ul>
          {p.failed.map((f) => (
            <li>
              <a href={`/dashboard/runs/${f.runId}`}>{f.runId}</a>: {f.message}
            </li>
          ))}
        </ul>
      )}
      <p>
        <a href="/dashboard/dead-letters">Back to the dead letters</a> · <a href="/dashboard/runs?status=running">Running runs</a>
      </p>
    </>
  );
}
