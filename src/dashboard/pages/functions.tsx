import { ErrorBox } from "../layout";

export interface FunctionView {
  id: string;
  name?: string;
  triggers: ({ event: string; if?: string } | { cron: string })[];
  retries: number;
  onFailure: boolean;
  paused?: boolean;
  /** Served by another app over the Inngest protocol. */
  remote?: boolean;
  app?: string;
  runs: Record<string, number>;
}

/** Every function of this engine: its triggers, config and runs by status, each count a link to those runs. */
export function FunctionsPage(p: { functions?: FunctionView[]; error?: { code: string; message: string } }) {
  return (
    <>
      <h1>Functions</h1>
      {p.error && <ErrorBox {...p.error} />}
      <table class="functions">
        <thead>
          <tr>
            <th>Function</th>
            <th>Triggers</th>
            <th>Config</th>
            <th>Runs by status</th>
          </tr>
        </thead>
        <tbody>
          {(p.functions ?? []).map((fn) => (
            <tr data-function={fn.id}>
              <td>
                <a href={`/dashboard/runs?functionId=${encodeURIComponent(fn.id)}`} class="mono">
                  {fn.id}
                </a>
                {fn.name && <div class="muted">{fn.name}</div>}
                {fn.remote && <div data-remote>remote, app {fn.app}</div>}
                {fn.paused && <div data-paused>paused</div>}
              </td>
              <td>
                {fn.triggers.map((t) => (
                  <div>
                    {"cron" in t ? (
                      <code>cron: {t.cron}</code>
                    ) : (
                      <>
                        <code>{t.event}</code>
                        {t.if && <span class="muted"> if {t.if}</span>}
                      </>
                    )}
                  </div>
                ))}
              </td>
              <td>
                retries: {fn.retries}
                {fn.onFailure && <div>onFailure handler</div>}
              </td>
              <td class="counts">
                {Object.entries(fn.runs)
                  .filter(([, n]) => n > 0)
                  .map(([status, n]) => (
                    <span data-status={status}>
                      <a href={`/dashboard/runs?functionId=${encodeURIComponent(fn.id)}&status=${status}`}>
                        {status} {n}
                      </a>
                    </span>
                  ))}
                {Object.values(fn.runs).every((n) => n === 0) && <span class="muted">no runs yet</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
