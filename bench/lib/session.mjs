import { StepflareDriver, WorkflowsDriver } from "./engines.mjs";
import { getJson } from "./http.mjs";
import { cpuMsOf, memoryOf, sampleRss } from "./runtime.mjs";

/**
 * Local workerd fails with SQLITE_CANTOPEN at about 5,000 live SQLite-backed
 * Durable Objects per process (each holds three open files). A session
 * restarts its runtime, on a fresh persistence directory, before a burst
 * would pass this many objects.
 */
export const MAX_OBJECTS_PER_PROCESS = 4000;

/**
 * One scenario's runtime under one launcher: started fresh, restarted when
 * its object budget runs out, and watched for memory while it lives.
 */
export class Session {
  constructor(launcher, { template, bundle, logFile, label, profile = false, vars = {} }) {
    this.vars = vars;
    this.profile = profile ? {} : null;
    this.launcher = launcher;
    this.template = template;
    this.bundle = bundle;
    this.logFile = logFile;
    this.label = label;
    this.processes = 0;
    this.memory = { hwm: 0, maxRss: 0, proxyHwm: 0, samples: 0 };
  }

  get base() {
    return this.rt.base;
  }

  /** CPU the runtime's workerd has used so far, in ms (wrangler's proxy workerd not included). */
  cpuMs() {
    return cpuMsOf(this.rt.runtimePid);
  }

  async start() {
    this.rt = await this.launcher.start({ template: this.template, bundle: this.bundle, logFile: this.logFile, vars: this.vars });
    if (!this.rt.runtimePid) throw new Error("could not find the workerd process of the runtime");
    this.sampler = sampleRss(this.rt.runtimePid);
    this.objects = 0;
    this.processes++;
    await this.#warmUp();
    if (this.profile) await getJson(`${this.base}/bench/profile`); // drop the warm-up's figures
  }

  /** Restarts first if `objects` more Durable Objects would pass the budget. */
  async ensureRoom(objects) {
    if (this.objects + objects > MAX_OBJECTS_PER_PROCESS) {
      await this.stop();
      await this.start();
    }
    this.objects += objects;
  }

  async stop() {
    if (!this.rt) return;
    if (this.profile) this.#mergeProfile(await getJson(`${this.base}/bench/profile`));
    const end = memoryOf(this.rt.runtimePid);
    const proxy = this.rt.proxyPid ? memoryOf(this.rt.proxyPid) : null;
    const { maxRss, samples } = this.sampler.stop();
    this.memory = {
      hwm: Math.max(this.memory.hwm, end?.hwm ?? 0),
      maxRss: Math.max(this.memory.maxRss, maxRss),
      proxyHwm: Math.max(this.memory.proxyHwm, proxy?.hwm ?? 0),
      samples: this.memory.samples + samples,
    };
    await this.rt.stop();
    this.rt = undefined;
  }

  #mergeProfile(stats) {
    for (const [label, s] of Object.entries(stats)) {
      const t = (this.profile[label] ??= { n: 0, ms: 0, max: 0 });
      t.n += s.n;
      t.ms += s.ms;
      t.max = Math.max(t.max, s.max);
    }
  }

  /** Compiles the Worker and creates each class once before anything is timed. */
  async #warmUp() {
    const sf = new StepflareDriver(this.base);
    const since = Date.now();
    await sf.send([{ name: "bench/one-step" }], { perRequest: 1 });
    await sf.waitRuns(["bench-one-step"], since, 1);
    const wf = new WorkflowsDriver(this.base);
    await wf.waitInstances(await wf.create("one", 1, 1));
    this.objects += 2;
  }
}
