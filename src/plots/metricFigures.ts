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
}

/**
 * A metric of each model against model-fitting iteration: one panel per label, one line per strategy,
 * strategies coloured alike across panels (Figures 3, 5, 6, 10, 11 all have this shape).
 */
export function metricByIterationFigure(curves: readonly SequenceCurve[], spec: MetricSpec, title: string): Figure {
  const labels = [...new Set(curves.map((c) => c.label))];
  const data: Record<string, unknown>[] = [];
  const shown = new Set<string>();
  curves.forEach((c) => {
    const i = labels.indexOf(c.label) + 1;
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: c.strategy,
      legendgroup: c.strategy,
      showlegend: !shown.has(c.strategy),
      x: c.records.map((r) => r.iteration),
      y: c.records.map((r) => r.metrics[spec.metric]),
      line: { color: STRATEGY_COLORS[c.strategy], width: 2 },
      hovertemplate: `${c.label}, ${c.strategy}<br>t=%{x}: %{y:.3f}${spec.unit ? ` ${spec.unit}` : ""}<extra></extra>`,
      xaxis: i === 1 ? "x" : `x${i}`,
      yaxis: i === 1 ? "y" : `y${i}`,
    });
    shown.add(c.strategy);
  });
  const layout = panelsLayout(labels, title, (k) => ({ title: k === 0 ? { text: spec.axisTitle } : undefined }));
  return { data, layout };
}

/** Line colours of the labels (models, settings) in a strategy-panel figure, in order of appearance. */
export const LABEL_COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"];

/**
 * A metric against model-fitting iteration as the paper lays out Figures 3, 5, 6 and 10: one panel per
 * strategy (in the order the curves come: replace left, accumulate right), one line per label (model or
 * setting), the panels sharing one y range so that their levels compare at a glance.
 */
export function strategyPanelsFigure(curves: readonly SequenceCurve[], spec: MetricSpec, title: string): Figure {
  const strategies = [...new Set(curves.map((c) => c.strategy))];
  const labels = [...new Set(curves.map((c) => c.label))];
  const data = curves.map((c) => {
    const i = strategies.indexOf(c.strategy) + 1;
    const k = labels.indexOf(c.label);
    return {
      type: "scatter",
      mode: "lines+markers",
      name: c.label,
      legendgroup: c.label,
      showlegend: strategies.indexOf(c.strategy) === strategies.findIndex((s) => curves.some((d) => d.strategy === s && d.label === c.label)),
      x: c.records.map((r) => r.iteration),
      y: c.records.map((r) => r.metrics[spec.metric]),
      line: { color: LABEL_COLORS[k % LABEL_COLORS.length], width: 2 },
      hovertemplate: `${c.label}, ${c.strategy}<br>t=%{x}: %{y:.3f}${spec.unit ? ` ${spec.unit}` : ""}<extra></extra>`,
      xaxis: i === 1 ? "x" : `x${i}`,
      yaxis: i === 1 ? "y" : `y${i}`,
    };
  });
  const layout = panelsLayout(strategies, title, (k) => (k === 0 ? { title: { text: spec.axisTitle } } : { matches: "y" }));
  return { data, layout };
}

/**
 * The layout of a row of independent panels, one per label, titled above each, with model-fitting
 * iteration on every x axis; `yaxis(k)` gives panel k's y axis.
 */
export function panelsLayout(labels: readonly string[], title: string, yaxis: (k: number) => Record<string, unknown>): Record<string, unknown> {
  const layout: Record<string, unknown> = {
    title: { text: title },
    grid: { rows: 1, columns: labels.length, pattern: "independent" },
    height: 420,
    annotations: labels.map((l, k) => ({
      text: `<b>${l}</b>`,
      xref: `x${k === 0 ? "" : k + 1} domain`,
      yref: `y${k === 0 ? "" : k + 1} domain`,
      x: 0.5,
      y: 1.06,
      showarrow: false,
      xanchor: "center",
      yanchor: "bottom",
    })),
  };
  labels.forEach((_, k) => {
    const suffix = k === 0 ? "" : String(k + 1);
    layout[`xaxis${suffix}`] = { title: { text: "model-fitting iteration" }, dtick: 1 };
    layout[`yaxis${suffix}`] = yaxis(k);
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
  return metricByIterationFigure(panels, { metric: "value", axisTitle: "" }, title);
}
