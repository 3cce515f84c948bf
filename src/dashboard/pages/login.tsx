/** Asks for the API key once; the answer is a session cookie, never the key itself. */
export function LoginPage(p: { next: string; failed?: string }) {
  return (
    <form method="post" action="/dashboard/login" class="login">
      <h1>Stepflare dashboard</h1>
      <label for="key">API key</label>
      <input id="key" type="password" name="key" autocomplete="current-password" required autofocus />
      <input type="hidden" name="next" value={p.next} />
      {p.failed && (
        <p class="error-box" role="alert">
          {p.failed}
        </p>
      )}
      <button type="submit" class="primary">
        Open the dashboard
      </button>
    </form>
  );
}
