import type { IterationRecord } from "../collapse/loop";
import type { Strategy } from "../collapse/strategies";
import { LABEL_COLORS, STRATEGY_COLORS, type MetricSpec, computeUnit, groupSeeds, lastIteration, logAxisTicks, meanAndStandardError, panelsLayout, xAxisTitle } from "./metricFigures";
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

/** One line of a proportion figure: a real set size's points (mean ± 1 SE) and, where known, its expectation. */
export interface ProportionLine {
  label: string;
  share: number[];
  mean: number[];
  se: number[];
  /** A closed form or exact expectation at each share (drawn dashed). */
  theory?: number[];
}

/** A proportion figure's lines from sequences: each real set size's `metric` at its last iteration, mean ± 1 SE over seeds per share. */
export function proportionLines(runs: readonly ProportionRun[], metric: string): ProportionLine[] {
  return [...new Set(runs.map((r) => r.label))].map((label) => {
    const mine = runs.filter((r) => r.label === label);
    const share = [...new Set(mine.map((r) => r.realShare))].sort((a, b) => a - b);
    const stats = share.map((p) => meanAndStandardError(mine.filter((r) => r.realShare === p).map((r) => r.records[r.records.length - 1].metrics[metric])));
    return { label, share, mean: stats.map((s) => s.mean), se: stats.map((s) => s.se) };
  });
}

/**
 * The proportion study's figure (after Kazdan, Schaeffer et al. 2025): a metric against the share of
 * real data in a training set of fixed size, one line per real set size, ±1 SE bars, the expectation
 * dashed where a line has one. `logY` for errors that span decades (p = 0 is replace's growth).
 */
export function proportionFigure(lines: readonly ProportionLine[], o: { axisTitle: string; title: string; logY?: boolean }): Figure {
  const data: Record<string, unknown>[] = [];
  let theoryLegendShown = false;
  lines.forEach((line, k) => {
    const color = LABEL_COLORS[k % LABEL_COLORS.length];
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: line.label,
      legendgroup: line.label,
      x: line.share,
      y: line.mean,
      error_y: { type: "data", array: line.se, visible: line.se.some((se) => se > 0), color },
      line: { color, width: 2 },
      marker: { size: 6 },
      customdata: line.se,
      hovertemplate: `${line.label}<br>p=%{x:.2f}: %{y:.4g} ± %{customdata:.2g}<extra></extra>`,
    });
    if (line.theory) {
      data.push({ type: "scatter", mode: "lines", name: "theory (dashed)", legendgroup: "theory", showlegend: !theoryLegendShown, x: line.share, y: line.theory, line: { color, width: 1.5, dash: "dash" }, hovertemplate: `theory, ${line.label}<br>p=%{x:.2f}: %{y:.4g}<extra></extra>` });
      theoryLegendShown = true;
    }
  });
  const values = lines.flatMap((l) => l.mean.flatMap((m, i) => [Math.max(m - l.se[i], m * 1e-3), m + l.se[i]]));
  return {
    data,
    layout: {
      title: { text: o.title },
      height: 460,
      hovermode: "closest",
      xaxis: { title: { text: "real share p of each training set after the first (0: replace; 1: the real subset alone)" }, range: [-0.03, 1.03] },
      yaxis: { ...(o.logY ? { ...logAxisTicks(Math.min(...values), Math.max(...values)), exponentformat: "power" } : {}), title: { text: o.axisTitle } },
      legend: { title: { text: "real set size" } },
      margin: { t: 90, r: 40 },
    },
  };
}
