import { ErrorBox, Status, Time } from "../layout";

export interface RunSummary {
  id: string;
  functionId: string;
  eventId: string;
  status: string;
  startedAt: string;
  endedAt?: string;
  errorCode?: string;
}

export interface RunsFilter {
  functionId?: string;
  status?: string;
  since?: string;
  until?: string;
}

export const RUN_STATUSES = ["queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled"];

const duration = (r: RunSummary) => (r.endedAt ? `${Date.parse(r.endedAt) - Date.parse(r.startedAt)} ms` : "");

/** Runs, newest first, filtered as the API filters them and paged with its cursors. */
export function RunsPage(p: {
  filter: RunsFilter;
  functionIds: string[];
  runs: RunSummary[];
  nextHref?: string;
  firstHref?: string;
  error?: { code: string; message: string };
}) {
  const f = p.filter;
  return (
    <>
      <h1>Runs</h1>
      <form method="get" action="/dashboard/runs" class="filters">
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
          Status
          <select name="status">
            <option value="">any</option>
            {RUN_STATUSES.map((s) => (
              <option value={s} selected={s === f.status}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Started since (UTC)
          <input type="text" name="since" value={f.since ?? ""} placeholder="2026-01-31T12:00:00Z" />
        </label>
        <label>
          Started before (UTC)
          <input type="text" name="until" value={f.until ?? ""} placeholder="ISO time or epoch ms" />
        </label>
        <button type="submit">Filter</button>
      </form>
      {p.error && <ErrorBox {...p.error} />}
      <RunTable runs={p.runs} />
      <div class="pager">
        {p.firstHref && <a href={p.firstHref}>Newest</a>}
        {p.nextHref && (
          <a href={p.nextHref} rel="next">
            Older runs
          </a>
        )}
      </div>
    </>
  );
}

export function RunTable(p: { runs: RunSummary[] }) {
  if (p.runs.length === 0) return <p class="muted">No runs.</p>;
  return (
    <table class="runs">
      <thead>
        <tr>
          <th>Started</th>
          <th>Function</th>
          <th>Status</th>
          <th>Run</th>
          <th>Took</th>
          <th>Error</th>
        </tr>
      </thead>
      <tbody>
        {p.runs.map((r) => (
          <tr data-run={r.id} data-function={r.functionId} data-status={r.status}>
            <td>
              <Time iso={r.startedAt} />
            </td>
            <td class="mono">{r.functionId}</td>
            <td>
              <Status status={r.status} />
            </td>
            <td>
              <a href={`/dashboard/runs/${r.id}`} class="mono">
                {r.id}
              </a>
            </td>
            <td>{duration(r)}</td>
            <td>{r.errorCode && <code>{r.errorCode}</code>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
