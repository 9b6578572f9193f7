import type { IterationRecord } from "../collapse/loop";
import type { Strategy } from "../collapse/strategies";
import type { Figure } from "./plotly";

/** Per-iteration figures any modality's sequences use (Figures 3, 5, 6, 8, 10, 11 have these shapes). */

/** A finished (or partial) sequence, as the per-iteration figures need it. */
export interface SequenceCurve {
  /** Legend/panel label, e.g. "GPT-2 (quick)" or "temperature 0.3". */
  label: string;
  strategy: Strategy;
  records: readonly IterationRecord[];
}

export const STRATEGY_COLORS: Record<Strategy, string> = {
  replace: "#d62728",
  accumulate: "#1f77b4",
  "replace-multiple": "#ff7f0e",
  "accumulate-subsample": "#2ca02c",
  augment: "#9467bd",
  "replace-matched-compute": "#8c564b",
};

/** What metricByIterationFigure plots from each record. */
export interface MetricSpec {
  /** Key in IterationRecord.metrics. */
  metric: string;
  axisTitle: string;
  /** Shown in the hover text. */
  unit?: string;
  /**
   * The x axis: model-fitting iteration (default), or the sequence's cumulative training compute up to
   * each model (FLOPs where every record knows them, else tokens, else examples seen), which asks
   * whether a strategy is better per unit of training rather than per model.
   */
  x?: XAxis;
}

export type XAxis = "iteration" | "compute";

/** What a compute axis counts: the finest measure every record of the figure has. */
export type ComputeUnit = "flops" | "tokens" | "examples";

const COMPUTE_TITLES: Record<ComputeUnit, string> = {
  flops: "cumulative training FLOPs",
  tokens: "cumulative training tokens",
  examples: "cumulative training examples seen",
};

/** The finest compute measure every record of the curves carries (records written before compute was recorded count as examples). */
export function computeUnit(curves: readonly { records: readonly IterationRecord[] }[]): ComputeUnit {
  const records = curves.flatMap((c) => c.records);
  if (records.length > 0 && records.every((r) => r.compute?.flops !== undefined)) return "flops";
  if (records.length > 0 && records.every((r) => r.compute?.tokens !== undefined)) return "tokens";
  return "examples";
}

/**
 * A sequence's cumulative training compute at each of its records, in `unit`. Records without a
 * compute field (runs written before it was recorded) count one pass over their training set at
 * their training scale, the loop's default.
 */
export function cumulativeCompute(records: readonly IterationRecord[], unit: ComputeUnit): number[] {
  if (records.every((r) => r.compute !== undefined)) return records.map((r) => r.compute![unit] ?? NaN);
  let total = 0;
  return records.map((r) => (total += r.trainSize * (r.trainingScale ?? 1)));
}

/** The x title of an axis. */
export function xAxisTitle(x: XAxis | undefined, unit: ComputeUnit): string {
  return x === "compute" ? COMPUTE_TITLES[unit] : "model-fitting iteration";
}

/** Sequences of one label and strategy that differ only in seed, as a mean and its standard error per iteration. */
export interface SeedGroup {
  label: string;
  strategy: Strategy;
  /** Most seeds any iteration has; an iteration is averaged over the seeds that reached it. */
  seeds: number;
  iterations: number[];
  /** The x of each iteration: the iteration itself, or the mean over seeds of the cumulative compute (MetricSpec.x). */
  x: number[];
  mean: number[];
  /** Standard error of the mean (sample standard deviation / √n); 0 where one seed reached the iteration. */
  se: number[];
}

/** Groups curves by (label, strategy) in order of appearance: a group of several is several seeds. */
export function groupSeeds(curves: readonly SequenceCurve[], metric: string, x: XAxis = "iteration"): SeedGroup[] {
  const unit = computeUnit(curves);
  const groups = new Map<string, SequenceCurve[]>();
  for (const c of curves) {
    const key = `${c.label}\u0000${c.strategy}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  return [...groups.values()].map((members) => {
    const byIteration = new Map<number, number[]>();
    const computeAt = new Map<number, number[]>();
    for (const c of members) {
      const compute = cumulativeCompute(c.records, unit);
      c.records.forEach((r, i) => {
        byIteration.set(r.iteration, [...(byIteration.get(r.iteration) ?? []), r.metrics[metric]]);
        computeAt.set(r.iteration, [...(computeAt.get(r.iteration) ?? []), compute[i]]);
      });
    }
    const iterations = [...byIteration.keys()].sort((a, b) => a - b);
    const stats = iterations.map((t) => meanAndStandardError(byIteration.get(t)!));
    const xs = x === "compute" ? iterations.map((t) => meanAndStandardError(computeAt.get(t)!).mean) : iterations;
    return { label: members[0].label, strategy: members[0].strategy, seeds: members.length, iterations, x: xs, mean: stats.map((v) => v.mean), se: stats.map((v) => v.se) };
  });
}

/** Mean and standard error of the mean of `values` (SE 0 for fewer than two). */
export function meanAndStandardError(values: readonly number[]): { mean: number; se: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, se: 0 };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  return { mean, se: Math.sqrt(variance / n) };
}

/** "2.345 ± 0.012 (3 seeds)" for tables; the plain value for one seed. */
export function formatMeanSe(values: readonly number[], digits = 3): string {
  const { mean, se } = meanAndStandardError(values);
  return values.length < 2 ? mean.toFixed(digits) : `${mean.toFixed(digits)} ± ${se.toFixed(digits)} (${values.length} seeds)`;
}

/** A group's mean line and, for several seeds, its ±1 SE band (a filled outline: no markers, no legend entry). */
function seedGroupTraces(g: SeedGroup, o: { panel: number; name: string; color: string; showlegend: boolean; spec: MetricSpec }): Record<string, unknown>[] {
  const axes = { xaxis: o.panel === 1 ? "x" : `x${o.panel}`, yaxis: o.panel === 1 ? "y" : `y${o.panel}` };
  const seeds = g.seeds > 1 ? `, mean of ${g.seeds} seeds` : "";
  const line = {
    type: "scatter",
    mode: "lines+markers",
    name: o.name,
    legendgroup: o.name,
    showlegend: o.showlegend,
    x: g.x,
    y: g.mean,
    ...(o.spec.x === "compute" ? { customdata: g.iterations } : {}),
    line: { color: o.color, width: 2 },
    hovertemplate: `${g.label}, ${g.strategy}${seeds}<br>${o.spec.x === "compute" ? "t=%{customdata}, compute %{x:.3s}" : "t=%{x}"}: %{y:.3f}${o.spec.unit ? ` ${o.spec.unit}` : ""}<extra></extra>`,
    ...axes,
  };
  if (g.seeds < 2) return [line];
  const band = {
    type: "scatter",
    mode: "lines",
    name: `${o.name} ±1 SE`,
    legendgroup: o.name,
    showlegend: false,
    x: [...g.x, ...[...g.x].reverse()],
    y: [...g.mean.map((m, i) => m + g.se[i]), ...g.mean.map((m, i) => m - g.se[i]).reverse()],
    fill: "toself",
    fillcolor: withAlpha(o.color, 0.2),
    line: { width: 0, color: o.color },
    hoverinfo: "skip",
    ...axes,
  };
  return [band, line];
}

/** "#rrggbb" as an rgba() colour. */
export function withAlpha(hex: string, alpha: number): string {
  const v = parseInt(hex.slice(1), 16);
  return `rgba(${(v >> 16) & 255},${(v >> 8) & 255},${v & 255},${alpha})`;
}

/**
 * A metric of each model against model-fitting iteration: one panel per label, one line per strategy,
 * strategies coloured alike across panels (Figure 11 and the controls figures). Sequences that differ
 * only in seed are drawn as their mean with a ±1 standard-error band.
 */
export function metricByIterationFigure(curves: readonly SequenceCurve[], spec: MetricSpec, title: string): Figure {
  const labels = [...new Set(curves.map((c) => c.label))];
  const shown = new Set<string>();
  const data = groupSeeds(curves, spec.metric, spec.x).flatMap((g) => {
    const traces = seedGroupTraces(g, { panel: labels.indexOf(g.label) + 1, name: g.strategy, color: STRATEGY_COLORS[g.strategy], showlegend: !shown.has(g.strategy), spec });
    shown.add(g.strategy);
    return traces;
  });
  const layout = panelsLayout(labels, title, (_, first) => ({ title: first ? { text: spec.axisTitle } : undefined }), lastIteration(curves), xAxisOf(spec, curves));
  return { data, layout };
}

/** Line colours of the labels (models, settings) in a strategy-panel figure, in order of appearance. */
export const LABEL_COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"];

/**
 * A metric against model-fitting iteration as the paper lays out Figures 3, 5, 6 and 10: one panel per
 * strategy (in the order the curves come: replace left, accumulate right), one line per label (model or
 * setting), the panels sharing one y range so that their levels compare at a glance. Several seeds: the
 * mean with a ±1 standard-error band.
 */
export function strategyPanelsFigure(curves: readonly SequenceCurve[], spec: MetricSpec, title: string): Figure {
  const strategies = [...new Set(curves.map((c) => c.strategy))];
  const labels = [...new Set(curves.map((c) => c.label))];
  const shown = new Set<string>();
  const data = groupSeeds(curves, spec.metric, spec.x).flatMap((g) => {
    const traces = seedGroupTraces(g, { panel: strategies.indexOf(g.strategy) + 1, name: g.label, color: LABEL_COLORS[labels.indexOf(g.label) % LABEL_COLORS.length], showlegend: !shown.has(g.label), spec });
    shown.add(g.label);
    return traces;
  });
  const layout = panelsLayout(strategies, title, (k, first) => ({ ...(first ? { title: { text: spec.axisTitle } } : {}), ...(k > 0 ? { matches: "y" } : {}) }), lastIteration(curves), xAxisOf(spec, curves));
  return { data, layout };
}

/** The bottom x axes' title and ticks of a figure of `spec` over `curves`. */
function xAxisOf(spec: MetricSpec, curves: readonly SequenceCurve[]): PanelXAxis {
  return { title: xAxisTitle(spec.x, computeUnit(curves)), wholeIterations: spec.x !== "compute" };
}

/** What panelsLayout puts on the x axes: the bottom row's title, and whether whole iterations are ticked. */
export interface PanelXAxis {
  title: string;
  wholeIterations: boolean;
}

/** The last model-fitting iteration any curve reached. */
export function lastIteration(curves: readonly { records: readonly IterationRecord[] }[]): number {
  return Math.max(1, ...curves.flatMap((c) => c.records.map((r) => r.iteration)));
}

/**
 * Ticks of a log axis over the data range [min, max]: one per decade, as powers of ten, when the data
 * span more than 1.5 decades; else 1, 2 and 5 of each decade as plain numbers. (plotly's default on a
 * short range labels the 2s and 5s as small bare digits beside full powers, which reads as noise.)
 */
export function logAxisTicks(min: number, max: number): Record<string, unknown> {
  const span = min > 0 && max > 0 ? Math.log10(max / min) : 0;
  if (!(span > 0) || span > 1.5) return { type: "log", dtick: 1, exponentformat: "power" };
  const tickvals: number[] = [];
  for (let e = Math.floor(Math.log10(min)) - 1; e <= Math.ceil(Math.log10(max)); e++) {
    for (const k of [1, 2, 5]) {
      const v = k * 10 ** e;
      if (v >= min / 1.6 && v <= max * 1.6) tickvals.push(Number(v.toPrecision(1)));
    }
  }
  return { type: "log", tickmode: "array", tickvals, ticktext: tickvals.map((v) => String(v)) };
}

/** Panels per row: more than four would be narrower than their tick labels at notebook width (~900 px) or in a two-column paper. */
export const MAX_PANEL_COLUMNS = 4;

/**
 * The layout of independent panels, one per label, titled above each, in rows of at most
 * MAX_PANEL_COLUMNS, with model-fitting iteration on the x axes of the bottom row; `yaxis(k, first)`
 * gives panel k's y axis (`first`: it starts a row, so it carries the y title). Whole iterations are
 * ticked one by one up to `lastIteration` 12, automatically beyond.
 */
export function panelsLayout(labels: readonly string[], title: string, yaxis: (k: number, first: boolean) => Record<string, unknown>, lastIteration = 1, x: PanelXAxis = { title: "model-fitting iteration", wholeIterations: true }): Record<string, unknown> {
  const columns = Math.min(labels.length, MAX_PANEL_COLUMNS);
  const rows = Math.ceil(labels.length / columns);
  const layout: Record<string, unknown> = {
    title: { text: title },
    grid: { rows, columns, pattern: "independent", roworder: "top to bottom", xgap: 0.12, ygap: rows > 1 ? 0.28 : 0.1 },
    height: rows === 1 ? 420 : 120 + 280 * rows,
    margin: { t: 100 },
    annotations: labels.map((l, k) => ({
      text: `<b>${l}</b>`,
      xref: `x${k === 0 ? "" : k + 1} domain`,
      yref: `y${k === 0 ? "" : k + 1} domain`,
      x: 0.5,
      y: 1.04,
      showarrow: false,
      xanchor: "center",
      yanchor: "bottom",
    })),
  };
  labels.forEach((_, k) => {
    const suffix = k === 0 ? "" : String(k + 1);
    const bottom = k + columns >= labels.length;
    layout[`xaxis${suffix}`] = { title: bottom ? { text: x.title } : undefined, ...(x.wholeIterations && lastIteration <= 12 ? { dtick: 1 } : {}) };
    layout[`yaxis${suffix}`] = yaxis(k, k % columns === 0);
  });
  return layout;
}

/**
 * Several metrics of the same sequences, one panel per metric, one line per strategy (Figure 8 has this
 * shape: Fréchet distance, precision and recall per generation).
 */
export function metricsPanelsFigure(curves: readonly { strategy: Strategy; records: readonly IterationRecord[] }[], specs: readonly MetricSpec[], title: string): Figure {
  const panels: SequenceCurve[] = specs.flatMap((spec) =>
    curves.map((c) => ({ label: spec.axisTitle, strategy: c.strategy, records: c.records.map((r) => ({ ...r, metrics: { value: r.metrics[spec.metric] } })) })),
  );
  return metricByIterationFigure(panels, { metric: "value", axisTitle: "", x: specs[0]?.x }, title);
}
