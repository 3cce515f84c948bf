import { JsonView } from "../json-view";
import { ErrorBox, Status, Time } from "../layout";

export interface EventSummary {
  id: string;
  name: string;
  acceptedAt: string;
  dispatched: boolean;
}

export interface EventDetail {
  event: { id: string; name: string; data: unknown; ts: number } & Record<string, unknown>;
  acceptedAt: string;
  dispatched: boolean;
  runs: { id: string; functionId: string; status: string }[];
}

/** Events, newest first; the search box takes an event id or an event name. */
export function EventsPage(p: {
  q: string;
  events: EventSummary[];
  nextHref?: string;
  firstHref?: string;
  error?: { code: string; message: string };
}) {
  return (
    <>
      <h1>Events</h1>
      <form method="get" action="/dashboard/events" class="filters">
        <label>
          Event name or id
          <input type="search" name="q" value={p.q} placeholder="app/user.signup or 01J…" size={40} />
        </label>
        <button type="submit">Search</button>
      </form>
      {p.error && <ErrorBox {...p.error} />}
      {p.events.length === 0 ? (
        <p class="muted">No events.</p>
      ) : (
        <table class="events">
          <thead>
            <tr>
              <th>Accepted</th>
              <th>Name</th>
              <th>Event</th>
              <th>Dispatched</th>
            </tr>
          </thead>
          <tbody>
            {p.events.map((e) => (
              <tr data-event={e.id}>
                <td>
                  <Time iso={e.acceptedAt} />
                </td>
                <td class="mono">{e.name}</td>
                <td>
                  <a href={`/dashboard/events/${e.id}`} class="mono">
                    {e.id}
                  </a>
                </td>
                <td>{e.dispatched ? "yes" : <span class="muted">not yet</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        {p.firstHref && <a href={p.firstHref}>Newest</a>}
        {p.nextHref && (
          <a href={p.nextHref} rel="next">
            Older events
          </a>
        )}
      </div>
    </>
  );
}

/** One event: its payload as stored and the runs it started. */
export function EventPage(p: { detail: EventDetail }) {
  const { event, runs } = p.detail;
  return (
    <>
      <h1>
        Event <span class="mono">{event.id}</span>
      </h1>
      <dl class="facts">
        <dt>Name</dt>
        <dd class="mono">{event.name}</dd>
        <dt>Accepted</dt>
        <dd>
          <Time iso={p.detail.acceptedAt} />
        </dd>
        <dt>Dispatched</dt>
        <dd>{p.detail.dispatched ? "yes" : "not yet"}</dd>
      </dl>
      <h2>Payload</h2>
      <JsonView value={event} class="json event-payload" />
      <h2>Runs it started</h2>
      {runs.length === 0 ? (
        <p class="muted">None yet.</p>
      ) : (
        <table class="runs">
          <tbody>
            {runs.map((r) => (
              <tr data-run={r.id} data-function={r.functionId} data-status={r.status}>
                <td class="mono">{r.functionId}</td>
                <td>
                  <Status status={r.status} />
                </td>
                <td>
                  <a href={`/dashboard/runs/${r.id}`} class="mono">
                    {r.id}
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
