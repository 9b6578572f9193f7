import type { IterationRecord } from "../collapse/loop";
import type { Strategy } from "../collapse/strategies";
import { escapeHtml, type Figure } from "./plotly";

/** A finished (or partial) sequence, as the per-iteration figures need it. */
export interface SequenceCurve {
  /** Legend/panel label, e.g. "GPT-2 (quick)" or "temperature 0.3". */
  label: string;
  strategy: Strategy;
  records: readonly IterationRecord[];
}

/** The §3.1 name of a SequenceCurve. */
export type LmCurve = SequenceCurve;

const STRATEGY_COLORS: Record<Strategy, string> = {
  replace: "#d62728",
  accumulate: "#1f77b4",
  "replace-multiple": "#ff7f0e",
  "accumulate-subsample": "#2ca02c",
  augment: "#9467bd",
};

/**
 * Figure 3 (and 10): test cross-entropy on real held-out text against model-fitting iteration, one
 * panel per label, one line per strategy.
 */
export function lmCrossEntropyFigure(curves: readonly LmCurve[], title = "Test cross-entropy vs model-fitting iteration"): Figure {
  return metricByIterationFigure(curves, { metric: "testCrossEntropy", axisTitle: "test cross-entropy (nats/token)", unit: "nats/token" }, title);
}

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
    layout[`yaxis${suffix}`] = { title: k === 0 ? { text: spec.axisTitle } : undefined };
  });
  return { data, layout };
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

/**
 * Figure 4: learning curves of every iteration (test cross-entropy during training), replace on top,
 * accumulate below; colour runs from the first model (dark) to the last (light). The x axis counts
 * training tokens: accumulate's later models see more of them.
 */
export function lmLearningCurvesFigure(curves: readonly LmCurve[], title = "Learning curves of each model-fitting iteration"): Figure {
  const data: Record<string, unknown>[] = [];
  const maxIteration = Math.max(...curves.flatMap((c) => c.records.map((r) => r.iteration)));
  curves.forEach((c, row) => {
    for (const r of c.records) {
      const points = (r.curve ?? []).filter((p) => p.metrics.testCrossEntropy !== undefined);
      if (points.length === 0) continue;
      const shade = maxIteration > 1 ? (r.iteration - 1) / (maxIteration - 1) : 0;
      data.push({
        type: "scatter",
        mode: "lines",
        name: `model ${r.iteration}`,
        legendgroup: `model ${r.iteration}`,
        showlegend: row === 0,
        x: points.map((p) => p.metrics.tokens),
        y: points.map((p) => p.metrics.testCrossEntropy),
        line: { color: viridis(shade), width: 2 },
        hovertemplate: `${c.strategy}, model ${r.iteration}<br>%{x} tokens: %{y:.3f}<extra></extra>`,
        xaxis: row === 0 ? "x" : `x${row + 1}`,
        yaxis: row === 0 ? "y" : `y${row + 1}`,
      });
    }
  });
  const layout: Record<string, unknown> = {
    title: { text: title },
    grid: { rows: curves.length, columns: 1, pattern: "independent" },
    height: 300 * curves.length + 100,
  };
  curves.forEach((c, row) => {
    const suffix = row === 0 ? "" : String(row + 1);
    layout[`xaxis${suffix}`] = { title: row === curves.length - 1 ? { text: "training tokens" } : undefined };
    layout[`yaxis${suffix}`] = { title: { text: `${c.strategy}<br>test cross-entropy` } };
  });
  return { data, layout };
}

/** An approximation of the viridis colormap at t ∈ [0, 1]. */
function viridis(t: number): string {
  const stops = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** Table 1: generated text at chosen iterations, one column per strategy (HTML). */
export function samplesTableHtml(rows: readonly { iteration: number; samples: Partial<Record<Strategy, string>> }[]): string {
  const strategies = [...new Set(rows.flatMap((r) => Object.keys(r.samples)))] as Strategy[];
  const head = `<tr><th>model</th>${strategies.map((s) => `<th>${escapeHtml(s)}</th>`).join("")}</tr>`;
  const body = rows
    .map(
      (r) =>
        `<tr><td style="vertical-align:top">${r.iteration}</td>${strategies
          .map((s) => `<td style="vertical-align:top;text-align:left;white-space:pre-wrap;max-width:40em">${escapeHtml(r.samples[s] ?? "—")}</td>`)
          .join("")}</tr>`,
    )
    .join("");
  return `<table class="collapse-kit-table">${head}${body}</table>`;
}
