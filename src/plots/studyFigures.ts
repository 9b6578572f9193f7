import type { IterationRecord } from "../collapse/loop";
import type { Strategy } from "../collapse/strategies";
import { LABEL_COLORS, STRATEGY_COLORS, type MetricSpec, computeUnit, groupSeeds, lastIteration, meanAndStandardError, panelsLayout, xAxisTitle } from "./metricFigures";
import type { Figure } from "./plotly";

// The figures of the studies beyond the paper that any modality's sequences feed: curated vs plain
// synthetic data, and the real-data proportion at a fixed training-set size.

/** A sequence of a curation figure: its strategy, whether (and how) its synthetic sets were curated, its records. */
export interface CurationCurve {
  strategy: Strategy;
  /** "oracle, keep 50%"; null for the uncurated sequence. */
  curation: string | null;
  records: readonly IterationRecord[];
}

/** Samples drawn per sample kept over a sequence's curated sets (1 without curation). */
export function drawsPerKept(records: readonly IterationRecord[]): number {
  const curated = records.filter((r) => r.curation);
  if (curated.length === 0) return 1;
  return curated.reduce((s, r) => s + r.curation!.drawn, 0) / curated.reduce((s, r) => s + r.curation!.kept, 0);
}

/**
 * One metric against iteration (or cumulative compute), a line per strategy and curation: curated
 * sequences dashed in their strategy's colour, with the cost of curation (samples drawn per sample
 * kept) in the legend. Sequences of the same strategy and curation that differ in seed are averaged.
 */
export function curationFigure(curves: readonly CurationCurve[], spec: MetricSpec, title: string): Figure {
  const name = (c: CurationCurve) => (c.curation === null ? c.strategy : `${c.strategy}, curated (${c.curation})`);
  const groups = groupSeeds(
    curves.map((c) => ({ label: name(c), strategy: c.strategy, records: c.records })),
    spec.metric,
    spec.x,
  );
  const data = groups.map((g) => {
    const members = curves.filter((c) => name(c) === g.label);
    const curated = members[0].curation !== null;
    const cost = curated ? ` — ${drawsPerKept(members.flatMap((m) => m.records)).toFixed(2)} drawn per kept` : "";
    return {
      type: "scatter",
      mode: "lines+markers",
      name: `${g.label}${cost}`,
      x: g.x,
      y: g.mean,
      error_y: g.seeds > 1 ? { type: "data", array: g.se, visible: true } : undefined,
      line: { color: STRATEGY_COLORS[g.strategy], width: 2, dash: curated ? "dash" : "solid" },
      hovertemplate: `${g.label}${g.seeds > 1 ? `, mean of ${g.seeds} seeds` : ""}<br>${spec.x === "compute" ? "compute %{x:.3s}" : "t=%{x}"}: %{y:.4g}<extra></extra>`,
    };
  });
  const layout = panelsLayout([""], title, () => ({ title: { text: spec.axisTitle } }), lastIteration(curves), { title: xAxisTitle(spec.x, computeUnit(curves)), wholeIterations: spec.x !== "compute" });
  return { data, layout: { ...layout, annotations: [], legend: { orientation: "h", y: -0.25 } } };
}

/** One point of a proportion figure: a sequence's real share, the real set it came from, its records. */
export interface ProportionRun {
  /** The line it belongs to: its real set size, e.g. "250 images". */
  label: string;
  realShare: number;
  records: readonly IterationRecord[];
}

/**
 * The proportion study's figure (after Kazdan, Schaeffer et al. 2025): the metric at the last
 * iteration against the share of real data in a training set of fixed size, one line per real set
 * size, mean ± 1 SE over seeds. `theory` adds dashed lines (label → value per share) where a closed
 * form or an exact expectation exists.
 */
export function proportionFigure(runs: readonly ProportionRun[], spec: MetricSpec, title: string, theory: readonly { label: string; share: number[]; value: number[] }[] = []): Figure {
  const labels = [...new Set(runs.map((r) => r.label))];
  const data: Record<string, unknown>[] = [];
  labels.forEach((label, k) => {
    const color = LABEL_COLORS[k % LABEL_COLORS.length];
    const shares = [...new Set(runs.filter((r) => r.label === label).map((r) => r.realShare))].sort((a, b) => a - b);
    const stats = shares.map((p) => meanAndStandardError(runs.filter((r) => r.label === label && r.realShare === p).map((r) => r.records[r.records.length - 1].metrics[spec.metric])));
    const last = Math.max(...runs.filter((r) => r.label === label).map((r) => r.records.length));
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: label,
      legendgroup: label,
      x: shares,
      y: stats.map((s) => s.mean),
      error_y: { type: "data", array: stats.map((s) => s.se), visible: stats.some((s) => s.se > 0) },
      line: { color, width: 2 },
      hovertemplate: `${label}<br>real share %{x:.2f}: %{y:.4g} at iteration ${last}<extra></extra>`,
    });
    for (const t of theory.filter((t) => t.label === label)) {
      data.push({ type: "scatter", mode: "lines", name: `${label}, theory`, legendgroup: label, x: t.share, y: t.value, line: { color, width: 1.5, dash: "dash" }, hovertemplate: `${label}, theory<br>real share %{x:.2f}: %{y:.4g}<extra></extra>` });
    }
  });
  return {
    data,
    layout: {
      title: { text: title },
      height: 420,
      xaxis: { title: { text: "share of real data in each training set (after the first)" }, range: [-0.03, 1.03] },
      yaxis: { title: { text: `${spec.axisTitle}, last iteration` } },
      legend: { title: { text: "real set size" } },
    },
  };
}
