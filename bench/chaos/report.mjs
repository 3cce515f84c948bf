/** The chaos run's figures as a Markdown table. */
import os from "node:os";

const s = (ms) => (ms == null ? "–" : `${(ms / 1000).toFixed(1)} s`);

export function markdown(opts, f) {
  const by = (moment) => f.kills.filter((k) => k.moment === moment).length;
  const rows = [
    ["events sent / accepted", `${f.events} / ${f.accepted}`],
    [
      "kills (SIGKILL to the process group)",
      `${f.kills.length}: ${by("among steps")} among the steps, ${by("during sends")} during a wave's sends, ${by("during recovery")} during the recovery from the previous kill`,
    ],
    ["runs expected / present", `${f.expected} / ${f.present}`],
    ["runs lost (missing, or not terminal at the timeout)", `${f.lost}`],
    ["runs completed / failed", `${f.completed} / ${f.failed}`],
    ["wrong outputs (a failed run counts)", `${f.wrong}`],
    [
      "from the last restart until every run was terminal (its object's `endedAt`)",
      f.lost === 0 ? s(f.settleAfterRestartMs) : `not within ${s(opts.timeoutMs)}`,
    ],
    [
      "from the last restart until the listing showed no run running",
      f.listedDoneAt ? s(f.listedDoneAt - f.lastRestartAt) : `not within ${s(opts.timeoutMs)}`,
    ],
    [
      "step executions beyond one per step (at-least-once re-runs)",
      `${f.extraExecutions}, in ${f.multiRunSteps} steps (at most ${f.maxExecutions} executions of one)`,
    ],
    ["of those, executions with no kill since the step's previous one", `${f.rerunsWithoutKill}`],
    ["steps with more than one attempt", `${f.retriedSteps} (at most ${f.maxAttempts} attempts of one)`],
    ["runs ended but still listed as running at the timeout", `${f.listedNotTerminal}`],
    ["whole run, start to last poll", s(f.totalMs)],
  ];
  const mark = { "among steps": "", "during sends": "*", "during recovery": "†" };
  const moments = f.kills.map((k) => `${(k.atMs / 1000).toFixed(1)}${mark[k.moment]}`).join(", ");
  return [
    `### Chaos run: ${f.events} events, ${f.kills.length} kills (${new Date().toISOString().slice(0, 16)}Z)`,
    "",
    "| figure | value |",
    "|---|---|",
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    "",
    `Kill moments, seconds into each wave (\\* during its sends; † during the recovery, before the wave, negative): ${moments || "none"}. Seed ${opts.seed}; ${os.cpus().length} cores; \`npm run chaos -- --events=${f.events} --kills=${f.kills.length} --seed=${opts.seed}\`.`,
  ].join("\n");
}
