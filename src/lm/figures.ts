import type { Strategy } from "../collapse/strategies";
import { type SequenceCurve, metricByIterationFigure } from "../plots/metricFigures";
import { escapeHtml, type Figure } from "../plots/plotly";

/** The §3.1 name of a SequenceCurve. */
export type LmCurve = SequenceCurve;

/**
 * Figure 3 (and 10): test cross-entropy on real held-out text against model-fitting iteration, one
 * panel per label, one line per strategy.
 */
export function lmCrossEntropyFigure(curves: readonly LmCurve[], title = "Test cross-entropy vs model-fitting iteration"): Figure {
  return metricByIterationFigure(curves, { metric: "testCrossEntropy", axisTitle: "test cross-entropy (nats/token)", unit: "nats/token" }, title);
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
