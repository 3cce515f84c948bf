import type { RunDetail } from "../../run/detail";
import { type Bar, formatDuration, shownStepStatus, type Timeline } from "../timeline";

const LANE = 22;
const BAR = 16;
const AXIS = 18;

type Step = RunDetail["steps"][number];
const pct = (f: number) => `${f * 100}%`;
/** The narrowest a bar or segment is drawn, as a fraction of the span, so a 1 ms attempt stays visible. */
const MIN_W = 0.003;

/**
 * The timeline as SVG: one bar per step from its start to its end, on the
 * lane `layoutTimeline` gave it (overlapping steps on lanes of their own). A
 * sleep is a hatched span; a step with failed attempts is a track cut into
 * one segment per attempt, then its outcome. Geometry is in attributes, not
 * inline styles, which the page's policy forbids.
 */
export function TimelineChart(p: { timeline: Timeline; steps: RunDetail["steps"]; runStatus: string }) {
  const { bars, lanes, from, to, nowX } = p.timeline;
  if (bars.length === 0) return <p class="muted">No step has started on this page.</p>;
  const height = AXIS + lanes * LANE + 4;
  const span = to - from;
  return (
    <svg
      class="timeline"
      role="img"
      aria-label={`timeline of ${bars.length} steps over ${formatDuration(span)}`}
      height={height}
      width="100%"
    >
      <defs>
        <pattern id="sleep-hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">
          <rect class="hatch-bg" width="6" height="6" />
          <line class="hatch" x1="0" y1="0" x2="0" y2="6" />
        </pattern>
      </defs>
      {[0, 0.25, 0.5, 0.75, 1].map((f) => (
        <>
          <line class="grid" x1={pct(f)} x2={pct(f)} y1="0" y2={height} />
          <text x={`${Math.min(f * 100, 95)}%`} y="12" dx="3">
            {`+${formatDuration(Math.round(f * span))}`}
          </text>
        </>
      ))}
      {bars.map((b) => (
        <StepBar bar={b} step={p.steps[b.index]} runStatus={p.runStatus} />
      ))}
      {nowX !== undefined && <line class="now" x1={pct(nowX)} x2={pct(nowX)} y1={AXIS - 4} y2={height} />}
    </svg>
  );
}

function StepBar(p: { bar: Bar; step: Step | undefined; runStatus: string }) {
  const { bar: b, step } = p;
  const status = shownStepStatus(step?.status ?? "", p.runStatus);
  const sleep = step?.type === "sleep";
  // A wait and an invoke are spans too: the run holds nothing while they last.
  const paused = sleep || step?.type === "wait" || step?.type === "invoke";
  const y = AXIS + b.lane * LANE;
  const tried = b.segments.length > 0;
  const what = sleep
    ? `sleep until ${step?.wakeAt ?? "?"}`
    : step?.type === "wait"
      ? `wait for ${step.wait?.event ?? "?"} until ${step.timeoutAt ?? "?"}`
      : step?.type === "invoke"
        ? `invoke ${step.invoked?.functionId ?? "?"}`
        : `${step?.attempts ?? 0} attempt(s)`;
  return (
    <g>
      <title>{`${step?.id ?? ""} (${status}, ${what}): ${formatDuration(b.end - b.start)}`}</title>
      <rect
        class={`bar ${status}${paused ? ` sleep ${step?.type}` : ""}${tried ? " tried" : ""}`}
        data-step={step?.key}
        data-lane={String(b.lane)}
        data-start={String(b.start)}
        data-end={String(b.end)}
        x={pct(b.x)}
        y={y}
        width={pct(Math.max(b.w, MIN_W))}
        height={BAR}
        rx="2"
      />
      {b.segments.map((s) => {
        const failed = s.attempt !== undefined ? step?.failedAttempts?.[s.attempt] : undefined;
        // Widened to stay visible, a segment is moved left so it stays inside its bar.
        const w = Math.max(s.w, MIN_W);
        const x = Math.max(b.x, Math.min(s.x, b.x + Math.max(b.w, MIN_W) - w));
        return (
          <rect
            class={`segment ${failed ? "attempt-failed" : status}`}
            data-step={step?.key}
            data-attempt={failed ? String(failed.attempt) : "final"}
            x={pct(x)}
            y={y}
            width={pct(w)}
            height={BAR}
          >
            <title>
              {failed
                ? `${step?.id ?? ""}: attempt ${failed.attempt} failed after ${formatDuration(s.end - s.start)}: ${failed.error.message}`
                : `${step?.id ?? ""}: ${status}`}
            </title>
          </rect>
        );
      })}
      <text class={paused || tried ? "label on-track" : "label"} x={pct(b.x)} dx="4" y={y + 12}>
        {step?.id ?? ""}
      </text>
    </g>
  );
}
