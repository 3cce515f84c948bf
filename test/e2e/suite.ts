import { afterAll, afterEach, beforeAll } from "vitest";
import { StepflareHttp } from "./client";
import { printOutputIfFailed, WranglerDev, type WranglerDevOptions } from "./harness";

/**
 * One `wrangler dev` for a test file: started before its tests, its output
 * printed beside a failed test, killed after the file. `ready` receives the
 * process and an HTTP client for it.
 */
export function serveDuringFile(
  options: WranglerDevOptions,
  ready: (dev: WranglerDev, http: StepflareHttp) => void,
  httpOptions?: ConstructorParameters<typeof StepflareHttp>[1],
): void {
  let dev: WranglerDev | undefined;
  beforeAll(async () => {
    dev = await WranglerDev.start(options);
    ready(dev, new StepflareHttp(dev.url, httpOptions));
  });
  afterEach((ctx) => printOutputIfFailed(dev, ctx));
  afterAll(async () => {
    await dev?.dispose();
  });
}
