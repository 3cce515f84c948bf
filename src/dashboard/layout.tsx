import type { Child } from "hono/jsx";

export interface LayoutProps {
  title: string;
  nav: "functions" | "events" | "runs" | "dead-letters" | "login";
  csrf?: string;
  /** Offer to log out (a session, not dev mode). */
  session?: boolean;
  /** Milliseconds between the page's own refreshes; absent: the page stays as served. */
  live?: number;
  children?: Child;
}

const LINKS = [
  ["functions", "/dashboard/functions", "Functions"],
  ["events", "/dashboard/events", "Events"],
  ["runs", "/dashboard/runs", "Runs"],
  ["dead-letters", "/dashboard/dead-letters", "Dead letters"],
] as const;

/** Every page's shell: the stylesheet and script the Worker serves itself, the navigation, and `#main`. */
export function Layout(p: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${p.title} · Stepflare`}</title>
        <link rel="stylesheet" href="/dashboard/assets/style.css" />
        <script src="/dashboard/assets/live.js" defer />
      </head>
      <body data-live={p.live ? String(p.live) : undefined}>
        <header>
          <a class="brand" href="/dashboard">
            Stepflare
          </a>
          {p.nav !== "login" && (
            <nav>
              {LINKS.map(([id, href, label]) => (
                <a href={href} class={id === p.nav ? "current" : undefined}>
                  {label}
                </a>
              ))}
            </nav>
          )}
          {p.session && p.csrf && (
            <form method="post" action="/dashboard/logout" class="logout">
              <input type="hidden" name="_csrf" value={p.csrf} />
              <button type="submit">Log out</button>
            </form>
          )}
        </header>
        <main id="main">{p.children}</main>
      </body>
    </html>
  );
}

/** An API error, shown in place of what the page could not read. */
export const ErrorBox = (p: { code: string; message: string }) => (
  <p class="error-box" role="alert">
    <code>{p.code}</code> {p.message}
  </p>
);

export const Status = (p: { status: string }) => <span class={`status status-${p.status}`}>{p.status}</span>;

/** A hidden CSRF field for an action form. */
export const Csrf = (p: { token: string }) => <input type="hidden" name="_csrf" value={p.token} />;

/** An ISO time shown shorter: date and time to the millisecond, UTC. */
export const Time = (p: { iso: string | undefined }) =>
  p.iso ? <time datetime={p.iso}>{p.iso.replace("T", " ").replace("Z", "")}</time> : <span class="muted">—</span>;
