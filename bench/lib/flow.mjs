/**
 * What flow control costs a run that it does not hold back: the same
 * one-step function with no limit and with each option (bench/worker/functions.ts,
 * FLOW_VARIANTS), set so that every run starts at once.
 */
import { stepflareBurst } from "./scenarios.mjs";
import { summarize } from "./stats.mjs";

/**
 * The options measured, in groups that share one runtime process: a group's
 * room is made before its first burst, so its members meet the same state
 * (no restart between them). `none` and `concurrency` (50) are the target's
 * pair; `concurrency1000` is a limit no burst reaches, so nothing ever queues.
 */
const GROUPS = [["none", "concurrency", "concurrency1000"], ["throttle", "rateLimit"], ["idempotency"], ["debounce"]];

/** Durable Objects a burst creates besides its runs: one per key value (idempotency, debounce) or one per burst. */
const extraObjects = (variant, count) => (variant === "idempotency" || variant === "debounce" ? count : variant === "none" ? 0 : 1);

const functionId = (variant) => `bench-flow-${variant.toLowerCase()}`;

function burst(session, variant, count, tag) {
  return stepflareBurst(session, {
    name: `bench/flow.${variant}`,
    fn: functionId(variant),
    count,
    objects: 0,
    // `burst` keys the rate limit (1,000 a second per burst); `u` keys idempotency and debounce (one per event).
    data: { burst: tag },
    dataOf: (i) => ({ u: `${tag}-${i}` }),
  });
}

/**
 * 10. Flow control: `count` events (requests of 100) to each variant's
 * function → runs completed per second and workerd CPU per run. Repetitions
 * alternate the order inside each group, as the throughput scenario does.
 */
export async function flow(session, { count, reps, only }) {
  // `--flow-variants=none,concurrency` keeps only those options (their groups stay as they are).
  const groups = only ? GROUPS.map((g) => g.filter((v) => only.includes(v))).filter((g) => g.length > 0) : GROUPS;
  const variants = groups.flat();
  const acc = Object.fromEntries(variants.map((v) => [v, { rates: [], cpu: [], endMs: [], completed: 0 }]));
  for (let r = -1; r < reps; r++) {
    const n = r < 0 ? 100 : count; // the first round warms every function up
    for (const group of groups) {
      await session.ensureRoom(group.reduce((a, v) => a + n + extraObjects(v, n), 0));
      for (let k = 0; k < group.length; k++) {
        const v = group[(Math.max(r, 0) + k) % group.length];
        const b = await burst(session, v, n, `r${r + 1}-${v}`);
        if (r < 0) continue;
        acc[v].completed += b.completed;
        acc[v].rates.push(b.endMs ? (b.completed / b.endMs) * 1000 : null);
        acc[v].cpu.push(b.cpuMs / n);
        acc[v].endMs.push(b.endMs);
      }
    }
  }
  const out = { count, reps, variants: {} };
  for (const v of variants) {
    const a = acc[v];
    out.variants[v] = {
      perSec: summarize(a.rates),
      cpuMsPerRun: summarize(a.cpu),
      endMs: summarize(a.endMs),
      expected: count * reps,
      completed: a.completed,
    };
    console.log(
      `  flow ${v}: ${out.variants[v].perSec?.median.toFixed(0)} runs/s, ${out.variants[v].cpuMsPerRun?.median.toFixed(2)} ms CPU/run (${a.completed}/${count * reps})`,
    );
  }
  return out;
}
