import { describe, expect, it } from "vitest";
import { resolveConfig } from "../config";
import type { Env } from "../env";
import { serviceBinding, serviceNames } from "./bindings";

describe("the services option", () => {
  it("takes binding names, each once, and refuses anything else", () => {
    expect(serviceNames(undefined)).toEqual([]);
    expect(serviceNames(["BILLING", "LEDGER", "BILLING"])).toEqual(["BILLING", "LEDGER"]);
    for (const bad of ["BILLING", [""], ["has space"], ["1ST"], [42]]) {
      expect(() => serviceNames(bad), JSON.stringify(bad)).toThrow(/list of service binding names/);
    }
  });

  // A binding that is there is reached in test/e2e/services.test.ts, through a real one.
  it("refuses a binding it does not list, even one the Worker has, and a listed one the Worker lacks", () => {
    const config = resolveConfig({ functions: [], services: ["MISSING"] });
    const env = { DB: {} } as unknown as Env;
    expect(() => serviceBinding(env, config, "DB")).toThrow(expect.objectContaining({ code: "service_not_configured" }));
    expect(() => serviceBinding(env, config, "MISSING")).toThrow(expect.objectContaining({ code: "service_binding_missing" }));
  });
});
