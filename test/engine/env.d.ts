// Types for the tests that run inside workerd: the test Worker is the main
// module, so `exports.default` is its fetch and queue handlers. Tests cast
// `env` to the engine's Env (src/env.ts).
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import("../engine-fixture/index");
  }
}
