import type { Strategy } from "../collapse/strategies";
import { STRATEGY_COLORS, type SequenceCurve, type XAxis, metricByIterationFigure, lastIteration, logAxisTicks, metricsPanelsFigure, panelsLayout, strategyPanelsFigure } from "../plots/metricFigures";
import { escapeHtml, type Figure } from "../plots/plotly";

/** The §3.1 name of a SequenceCurve. */
export type LmCurve = SequenceCurve;

const CROSS_ENTROPY = { metric: "testCrossEntropy", axisTitle: "test cross-entropy (nats/token)", unit: "nats/token" };

/**
 * Test cross-entropy on real held-out text against model-fitting iteration, one panel per label, one
 * line per strategy (Figure 11's columns, the controls figure).
 */
export function lmCrossEntropyFigure(curves: readonly LmCurve[], title = "Test cross-entropy vs model-fitting iteration", x?: XAxis): Figure {
  return metricByIterationFigure(curves, { ...CROSS_ENTROPY, x }, title);
}

/** Figures 3 and 10 as the paper draws them: one panel per strategy, one line per model (or setting). */
export function lmCrossEntropyByStrategyFigure(curves: readonly LmCurve[], title = "Test cross-entropy vs model-fitting iteration", x?: XAxis): Figure {
  return strategyPanelsFigure(curves, { ...CROSS_ENTROPY, x }, title);
}

/** Figure 4's x axis: epochs (the paper's), or training tokens. */
export interface LearningCurveAxis {
  x: "epochs" | "tokens";
  /** Epochs of every fit, and of the first one where it differs (Figure 11); for x = "epochs". */
  epochs?: number;
  firstIterationEpochs?: number;
}

/**
 * Figure 4: learning curves of every iteration (test cross-entropy during training), replace on top,
 * accumulate below; colour runs from the first model (dark) to the last (light). On the paper's epoch
 * axis accumulate's later epochs hold more optimizer steps (its set grows); the token axis shows that.
 */
export function lmLearningCurvesFigure(curves: readonly LmCurve[], title = "Learning curves of each model-fitting iteration", axis: LearningCurveAxis = { x: "tokens" }): Figure {
  // A record's points count tokens; its trainTokens total is its epochs' worth (× trainingScale).
  const epochsOf = (r: LmCurve["records"][number]) => (r.iteration === 1 && axis.firstIterationEpochs !== undefined ? axis.firstIterationEpochs : (axis.epochs ?? 1)) * (r.trainingScale ?? 1);
  const xOf = (r: LmCurve["records"][number], tokens: number) => (axis.x === "tokens" ? tokens : (tokens / r.metrics.trainTokens) * epochsOf(r));
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
        x: points.map((p) => xOf(r, p.metrics.tokens)),
        y: points.map((p) => p.metrics.testCrossEntropy),
        line: { color: viridis(shade), width: 2 },
        hovertemplate: `${c.strategy}, model ${r.iteration}<br>%{x:${axis.x === "tokens" ? "," : ".2f"}} ${axis.x}: %{y:.3f}<extra></extra>`,
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
    layout[`xaxis${suffix}`] = { title: row === curves.length - 1 ? { text: axis.x === "tokens" ? "training tokens" : "epoch" } : undefined };
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
export function samplesTableHtml(rows: readonly { iteration: number; samples: Partial<Record<Strategy, string>>; notes?: Partial<Record<Strategy, string>> }[]): string {
  const strategies = [...new Set(rows.flatMap((r) => Object.keys(r.samples)))] as Strategy[];
  const head = `<tr><th>model</th>${strategies.map((s) => `<th>${escapeHtml(s)}</th>`).join("")}</tr>`;
  const body = rows
    .map(
      (r) =>
        `<tr><td style="vertical-align:top">${r.iteration}</td>${strategies
          .map((s) => {
            const note = r.notes?.[s] ? `<div style="color:#666;font-size:85%;margin-top:0.4em">${escapeHtml(r.notes[s]!)}</div>` : "";
            return `<td style="vertical-align:top;text-align:left;white-space:pre-wrap;max-width:40em">${escapeHtml(r.samples[s] ?? "—")}${note}</td>`;
          })
          .join("")}</tr>`,
    )
    .join("");
  return `<table class="collapse-kit-table">${head}${body}</table>`;
}

/** The paper's Table 1 shows iterations 3, 5, 8 and 10 of 10: the same fractions of a sequence of `iterations`. */
export function table1Iterations(iterations: number): number[] {
  return [...new Set([0.3, 0.5, 0.8, 1].map((f) => Math.max(1, Math.round(f * iterations))))];
}

/** The text measures of one record, as a line beside its story in Table 1. */
export function textMeasuresNote(metrics: Readonly<Record<string, number>>): string {
  const parts = [
    `test CE ${metrics.testCrossEntropy?.toFixed(3)}`,
    metrics.validWordRate !== undefined ? `valid words ${(100 * metrics.validWordRate).toFixed(1)}%` : "",
    metrics.distinct2 !== undefined ? `distinct-2 ${metrics.distinct2.toFixed(3)}` : "",
    metrics.firstModelPerplexityQ50 !== undefined ? `median perplexity under model 1 ${metrics.firstModelPerplexityQ50.toFixed(1)}` : "",
  ];
  return parts.filter(Boolean).join(" · ");
}

/**
 * The text measures of every model (beyond the paper): valid-word rate, distinct-1 and distinct-2 of
 * its generated documents, one panel each, one line per sequence.
 */
export function lmTextMeasuresFigure(curves: readonly LmCurve[], title = "What the models write: real words and variety"): Figure {
  return metricsPanelsFigure(
    curves,
    [
      { metric: "validWordRate", axisTitle: "valid-word rate" },
      { metric: "distinct1", axisTitle: "distinct-1" },
      { metric: "distinct2", axisTitle: "distinct-2" },
    ],
    title,
  );
}

/**
 * The tails figure (after Shumailov et al.): the perplexity, under the first model, of the documents
 * each later model writes. One panel per strategy: the median as a line, the 25–75% and 5–95%
 * ranges as bands. Collapse shows as bands that narrow (the tails thin out) or drift.
 */
export function firstModelPerplexityFigure(curves: readonly LmCurve[], title = "Perplexity under model 1 of each model's documents"): Figure {
  const strategies = [...new Set(curves.map((c) => c.strategy))];
  const data: Record<string, unknown>[] = [];
  const q = (r: { metrics: Readonly<Record<string, number>> }, k: string) => r.metrics[`firstModelPerplexity${k}`];
  curves.forEach((c) => {
    const i = strategies.indexOf(c.strategy) + 1;
    const axes = { xaxis: i === 1 ? "x" : `x${i}`, yaxis: i === 1 ? "y" : `y${i}` };
    const rs = c.records.filter((r) => q(r, "Q50") !== undefined);
    const x = rs.map((r) => r.iteration);
    const color = STRATEGY_COLORS[c.strategy];
    for (const [lo, hi, opacity] of [["Q05", "Q95", 0.15], ["Q25", "Q75", 0.3]] as const) {
      data.push({
        type: "scatter",
        mode: "lines",
        x: [...x, ...[...x].reverse()],
        y: [...rs.map((r) => q(r, hi)), ...[...rs].reverse().map((r) => q(r, lo))],
        fill: "toself",
        fillcolor: hexToRgba(color, opacity),
        line: { width: 0 },
        hoverinfo: "skip",
        showlegend: false,
        ...axes,
      });
    }
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: `${c.label} · ${c.strategy}`,
      x,
      y: rs.map((r) => q(r, "Q50")),
      line: { color, width: 2 },
      hovertemplate: `${c.label}, ${c.strategy}<br>t=%{x}: median %{y:.1f}<extra></extra>`,
      ...axes,
    });
  });
  const ys = data.flatMap((t) => (t.y as number[]).filter((v) => Number.isFinite(v) && v > 0));
  const ticks = logAxisTicks(Math.min(...ys), Math.max(...ys));
  const layout = panelsLayout(strategies, title, (_, first) => ({ ...ticks, title: first ? { text: "perplexity under model 1 (5, 25, 50, 75, 95%)" } : undefined }), lastIteration(curves));
  return { data, layout };
}

function hexToRgba(hex: string, alpha: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}
