import type { RunDetail } from "../../run/detail";
import type { Timeline } from "../timeline";

const LANE = 22;
const BAR = 16;
const AXIS = 18;

/**
 * The timeline as SVG: one bar per step from its start to its end, on the
 * lane `layoutTimeline` gave it (overlapping steps on lanes of their own).
 * Geometry is in attributes, not inline styles, which the page's policy forbids.
 */
export function TimelineChart(p: { timeline: Timeline; steps: RunDetail["steps"] }) {
  const { bars, lanes, from, to } = p.timeline;
  if (bars.length === 0) return <p class="muted">No step has started on this page.</p>;
  const height = AXIS + lanes * LANE + 4;
  const span = to - from;
  return (
    <svg class="timeline" role="img" aria-label={`timeline of ${bars.length} steps over ${span} ms`} height={height} width="100%">
      {[0, 0.25, 0.5, 0.75, 1].map((f) => (
        <>
          <line class="grid" x1={`${f * 100}%`} x2={`${f * 100}%`} y1="0" y2={height} />
          <text x={`${Math.min(f * 100, 96)}%`} y="12" dx="3">
            {`+${Math.round(f * span)} ms`}
          </text>
        </>
      ))}
      {bars.map((b) => {
        const step = p.steps[b.index];
        return (
          <g>
            <title>{`${step?.id ?? ""} (${step?.status ?? ""}): ${b.end - b.start} ms`}</title>
            <rect
              class={`bar ${step?.status ?? ""}`}
              data-step={step?.key}
              data-lane={String(b.lane)}
              data-start={String(b.start)}
              data-end={String(b.end)}
              x={`${b.x * 100}%`}
              y={AXIS + b.lane * LANE}
              width={`${Math.max(b.w * 100, 0.3)}%`}
              height={BAR}
              rx="2"
            />
            <text class="label" x={`${b.x * 100}%`} dx="4" y={AXIS + b.lane * LANE + 12}>
              {step?.id ?? ""}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
