// The Vitest part of `npm test`: the engine's projects (workerd, Node) and
// the end-to-end project (real `wrangler dev` processes) as two Vitest runs
// side by side. The e2e files spend most of their time waiting on wrangler,
// so they overlap the engine's CPU-bound files instead of following them.
// dist/ is built once, first; neither run rebuilds it while the other reads it.
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import readline from "node:readline";

const ROOT = path.resolve(import.meta.dirname, "..");
const BIN = path.join(ROOT, "node_modules/.bin");
const env = { ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ""}`, STEPFLARE_DIST_BUILT: "1" };

const build = spawnSync(path.join(BIN, "tsdown"), [], { cwd: ROOT, env, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

/** Runs one Vitest invocation, each output line prefixed with its name; resolves to its exit code. */
function vitest(name, args) {
  const child = spawn(path.join(BIN, "vitest"), ["run", ...args, ...process.argv.slice(2)], { cwd: ROOT, env });
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on("line", (line) => console.log(`[${name}] ${line}`));
  }
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

const codes = await Promise.all([vitest("engine", ["--project", "workers", "--project", "node"]), vitest("e2e", ["--project", "e2e"])]);
for (const [i, name] of ["engine", "e2e"].entries()) console.log(`${name}: ${codes[i] === 0 ? "passed" : `failed (exit ${codes[i]})`}`);
process.exit(codes.some((c) => c !== 0) ? 1 : 0);
