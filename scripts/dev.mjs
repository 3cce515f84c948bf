// `npm run dev`: the example app under `wrangler dev`, importing the package
// by name from dist/, with tsdown rebuilding dist/ on every change to src/ or
// sdk/ (wrangler reloads when the files it bundled change). Extra arguments
// go to `wrangler dev`.
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const BIN = path.join(ROOT, "node_modules/.bin");
const CONFIG = "examples/app/wrangler.toml";
const env = { ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ""}` };

const once = (cmd, args) => {
  const r = spawnSync(path.join(BIN, cmd), args, { cwd: ROOT, env, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

once("tsdown", []);
once("wrangler", ["d1", "migrations", "apply", "DB", "--local", "--config", CONFIG]);

// The watcher's first build rewrites the same files in place (no clean), so wrangler never sees dist/ empty.
const watcher = spawn(path.join(BIN, "tsdown"), ["--watch", "--no-clean", "--log-level", "warn"], { cwd: ROOT, env, stdio: "inherit" });
const wrangler = spawn(path.join(BIN, "wrangler"), ["dev", "--config", CONFIG, "--var", "STEPFLARE_DEV:true", ...process.argv.slice(2)], {
  cwd: ROOT,
  env,
  stdio: "inherit",
});

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    watcher.kill(signal);
    wrangler.kill(signal);
  });
}
wrangler.on("exit", (code, signal) => {
  watcher.kill("SIGTERM");
  process.exitCode = code ?? (signal ? 1 : 0);
});
watcher.on("exit", (code) => {
  if (code) wrangler.kill("SIGTERM");
});
