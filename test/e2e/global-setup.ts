import { execFileSync } from "node:child_process";
import path from "node:path";
import { ROOT } from "./harness";

/**
 * Builds the package once before the e2e files run: the workers they serve
 * import `stepflare` and `stepflare/engine` by name, which resolves through
 * package.json's exports to dist/.
 */
export default function setup(): void {
  execFileSync(path.join(ROOT, "node_modules/.bin/tsdown"), [], {
    cwd: ROOT,
    stdio: "ignore",
    env: { ...process.env, PATH: `${path.join(ROOT, "node_modules/.bin")}${path.delimiter}${process.env.PATH ?? ""}` },
  });
}
