import type { IterationRecord } from "../collapse/loop";
import type { Profile } from "../collapse/profiles";
import type { Strategy } from "../collapse/strategies";
import { type SequenceCurve, type XAxis, formatMeanSe, metricByIterationFigure, metricsPanelsFigure, strategyPanelsFigure } from "../plots/metricFigures";
import type { Figure } from "../plots/plotly";
import type { DataFrame } from "danfojs-node";
import type { TidyRow } from "../store/export";
import { frameRows } from "../store/frames";
import { type LearningCurveAxis, firstModelPerplexityFigure, lmCrossEntropyByStrategyFigure, lmCrossEntropyFigure, lmLearningCurvesFigure, lmTextMeasuresFigure } from "../lm/figures";
import { attributeFrequencyFigure } from "../vae/figures";
import { type LmAppendixConfig, type SequenceResults, figure10Settings, figure11Settings } from "./lmAppendix";

/**
 * One builder per figure of §3.1, §3.2, §3.3 and §5 (and the mean ± SE table the seeded figures share), used by
 * the notebooks and by `collapse reproduce` alike, so that a title, an axis or a unit is written once.
 */

/**
 * The models of Figure 3 at each profile: GPT-2 and Llama-2, as in the paper. The quick and smoke Llama-2
 * sequences are the same models as Table 2's Llama-2 rows (at smoke the same runs; at quick the appendix trains on fewer tokens).
 */
export function lmFigure3Models(profile: Profile): string[] {
  switch (profile) {
    case "smoke":
      return ["gpt2-smoke", "llama2-smoke"];
    case "quick":
      return ["gpt2-quick", "llama2-quick"];
    case "medium":
      // The smallest of each architecture of the paper.
      return ["gpt2-9m", "llama2-12m"];
    case "paper":
      return ["gpt2-9m", "llama2-12m", "llama2-42m", "llama2-126m"];
  }
}

/** The x axis of a per-iteration figure: iteration (default) or cumulative training compute. */
export interface FigureAxis {
  x?: XAxis;
}

/** What the builders read of a sequence's result. */
export interface StrategyRun {
  config: { strategy: Strategy };
  records: readonly IterationRecord[];
}

function curves(runs: readonly StrategyRun[], label: string): SequenceCurve[] {
  return runs.map((r) => ({ label, strategy: r.config.strategy, records: r.records }));
}

/** What the §3.1 builders read of a language-model sequence: its model names its line. */
export interface LmRun {
  config: { model: string; strategy: Strategy };
  records: readonly IterationRecord[];
}

function lmCurves(runs: readonly LmRun[], model?: string): SequenceCurve[] {
  return runs.filter((r) => model === undefined || r.config.model === model).map((r) => ({ label: r.config.model, strategy: r.config.strategy, records: r.records }));
}

/** Figure 3: replace and accumulate side by side, one line per model, test cross-entropy on real text. */
export function figure3(runs: readonly LmRun[], axis: FigureAxis = {}): Figure {
  return lmCrossEntropyByStrategyFigure(lmCurves(runs), "Figure 3: replace vs accumulate (test cross-entropy on real stories)", axis.x);
}

/** §3.1's text measures (beyond the paper): valid-word rate and distinct-n of each model's generated documents. */
export function lmTextMeasures(runs: readonly LmRun[]): Figure {
  return lmTextMeasuresFigure(lmCurves(runs), "Text measures of each model's generated documents");
}

/** §3.1's tails (beyond the paper): perplexity under model 1 of each model's documents, median and quantile bands. */
export function lmTails(runs: readonly LmRun[]): Figure {
  return firstModelPerplexityFigure(lmCurves(runs), "Perplexity under model 1 of each model's documents (median, 25–75%, 5–95%)");
}

/** The text measures at t=1 and at the last iteration, one row per sequence. */
export function lmTextMeasuresTable(runs: readonly LmRun[]): Record<string, string | undefined>[] {
  return runs.map((r) => {
    const first = r.records[0].metrics;
    const last = r.records[r.records.length - 1].metrics;
    const t = r.records.length;
    const ppl = (m: Readonly<Record<string, number>>) => `${m.firstModelPerplexityQ05?.toFixed(1)}–${m.firstModelPerplexityQ95?.toFixed(1)}`;
    return {
      model: r.config.model,
      strategy: r.config.strategy,
      "valid words t=1": first.validWordRate?.toFixed(3),
      [`valid words t=${t}`]: last.validWordRate?.toFixed(3),
      "distinct-2 t=1": first.distinct2?.toFixed(3),
      [`distinct-2 t=${t}`]: last.distinct2?.toFixed(3),
      "ppl₁ 5–95% t=1": ppl(first),
      [`ppl₁ 5–95% t=${t}`]: ppl(last),
    };
  });
}

/** Figure 4: the learning curves of every fit of `model`'s sequences (x: epochs, as the paper's, or tokens). */
export function figure4(runs: readonly LmRun[], model: string, axis: LearningCurveAxis): Figure {
  return lmLearningCurvesFigure(lmCurves(runs, model), `Figure 4: learning curves (${model})`, axis);
}

/** Figure 10: the base setting at temperature 1 and at the low temperature, up to figure10Iterations. */
export function figure10(appendix: LmAppendixConfig, results: SequenceResults): Figure {
  return lmCrossEntropyByStrategyFigure(results.curves(figure10Settings(appendix), appendix.strategies, appendix.figure10Iterations), "Figure 10: test cross-entropy at two sampling temperatures");
}

/** Figure 11: the first model trained for other numbers of epochs than the rest. */
export function figure11(appendix: LmAppendixConfig, results: SequenceResults): Figure {
  return lmCrossEntropyFigure(results.curves(figure11Settings(appendix), appendix.strategies, appendix.shortIterations), "Figure 11: varying the training of the first model only");
}

/** The reviewers' controls for §3.1, on the appendix's base setting. */
export function lmControlsFigure(appendix: LmAppendixConfig, results: SequenceResults, axis: FigureAxis = {}): Figure {
  return lmCrossEntropyFigure(results.curves([{ label: "GPT-2, base setting", setting: appendix.base }], appendix.controls, appendix.shortIterations), "Controls: data, steps or real data?", axis.x);
}

const EGNN = "GeoDiff-style EGNN diffusion";
const TEST_LOSS = { metric: "testLoss", axisTitle: "test denoising loss" };
const NEG_ELBO = { metric: "testNegElbo", axisTitle: "test −ELBO (nats/image)", unit: "nats" };

/** Figure 5: replace and accumulate side by side, test denoising loss on held-out molecules. */
export function figure5(runs: readonly StrategyRun[], axis: FigureAxis = {}): Figure {
  return strategyPanelsFigure(curves(runs, EGNN), { ...TEST_LOSS, ...axis }, "Figure 5: replace vs accumulate (test loss on held-out molecules)");
}

/** Coverage of the test conformers (COV) at RMSD threshold `threshold` Å (beyond the paper). */
export function moleculeCoverageFigure(runs: readonly StrategyRun[], threshold: number): Figure {
  return metricByIterationFigure(curves(runs, "COV"), { metric: "coverage", axisTitle: `COV (δ = ${threshold} Å)` }, "Coverage of test conformers");
}

/** Matching RMSD of the test conformers (MAT; beyond the paper). */
export function moleculeMatchingFigure(runs: readonly StrategyRun[]): Figure {
  return metricByIterationFigure(curves(runs, "MAT"), { metric: "matching", axisTitle: "MAT (Å)", unit: "Å" }, "Matching RMSD of test conformers");
}

/** The reviewers' controls for §3.2: every control strategy's test loss in one panel. */
export function moleculeControlsFigure(runs: readonly StrategyRun[], axis: FigureAxis = {}): Figure {
  return metricByIterationFigure(curves(runs, EGNN), { ...TEST_LOSS, ...axis }, "Controls: data, steps or real data? (test loss on held-out molecules)");
}

/** Figure 6: replace and accumulate side by side, negative ELBO on held-out real images. */
export function figure6(runs: readonly StrategyRun[], axis: FigureAxis = {}): Figure {
  return strategyPanelsFigure(curves(runs, "VAE"), { ...NEG_ELBO, ...axis }, "Figure 6: replace vs accumulate (negative ELBO on held-out real images)");
}

/** How often the attribute classifier finds each attribute among generated faces (beyond the paper). */
export function vaeAttributesFigure(runs: readonly StrategyRun[], realFrequencies: Readonly<Record<string, number>>): Figure {
  return attributeFrequencyFigure(curves(runs, "VAE"), realFrequencies, "Attribute frequencies among generated faces");
}

/** Fréchet distance, precision and recall of generated faces in the classifier's feature space. */
export function vaeFidelityFigure(runs: readonly StrategyRun[]): Figure {
  return metricsPanelsFigure(curves(runs, "VAE"), FIDELITY("Fréchet distance (classifier features)"), "Generated vs real faces in the classifier's feature space");
}

/** The reviewers' controls for §3.3: every control strategy's negative ELBO in one panel. */
export function vaeControlsFigure(runs: readonly StrategyRun[], axis: FigureAxis = {}): Figure {
  return metricByIterationFigure(curves(runs, "VAE"), { ...NEG_ELBO, ...axis }, "Controls: data, steps or real data? (negative ELBO on held-out real images)");
}

const FIDELITY = (distance: string, axis: FigureAxis = {}) => [
  { metric: "frechetDistance", axisTitle: distance, ...axis },
  { metric: "precision", axisTitle: "precision", ...axis },
  { metric: "recall", axisTitle: "recall", ...axis },
];

/** Figure 8 on the Gaussian: replace, augment and accumulate, distance to the truth, precision, recall. */
export function figure8Gaussian(runs: readonly { strategy: Strategy; records: readonly IterationRecord[] }[], dim: number, axis: FigureAxis = {}): Figure {
  return metricsPanelsFigure(runs, FIDELITY("Fréchet distance to the truth", axis), `Figure 8 (Gaussian, ${dim}-D): three loops`);
}

/** Figure 8 on the VAE: the same three loops, in the attribute classifier's feature space. */
export function figure8Vae(runs: readonly StrategyRun[], axis: FigureAxis = {}): Figure {
  return metricsPanelsFigure(curves(runs, "VAE"), FIDELITY("Fréchet distance (classifier features)", axis), "Figure 8 (VAE on faces): three loops");
}

/**
 * One row per group of runs of a runs frame (runsFrame: runs that differ only in seed): `metric` at
 * t=1 and at the last iteration, and the change, each as mean ± SE over the group's runs (the plain
 * value for one). `by`: header → the column that groups (e.g. { strategy: "config.strategy" });
 * `extra(row)`: more cells from the group's first row (facts.*, ...).
 */
export function meanSeTable(
  runs: DataFrame,
  metric: string,
  o: { by: Record<string, string>; extra?: (row: TidyRow) => TidyRow; digits?: number },
): TidyRow[] {
  const groups = new Map<string, Map<string, TidyRow[]>>();
  for (const row of frameRows(runs)) {
    const key = JSON.stringify(Object.values(o.by).map((c) => row[c]));
    if (!groups.has(key)) groups.set(key, new Map());
    const byRun = groups.get(key)!;
    const run = String(row.run);
    if (!byRun.has(run)) byRun.set(run, []);
    byRun.get(run)!.push(row);
  }
  return [...groups.values()].map((byRun) => {
    const series = [...byRun.values()].map((rows) => rows.sort((a, b) => Number(a.iteration) - Number(b.iteration)).map((r) => Number(r[`metrics.${metric}`])));
    const first = [...byRun.values()][0][0];
    const values = (f: (x: number[]) => number) => series.map(f);
    return {
      ...Object.fromEntries(Object.entries(o.by).map(([header, column]) => [header, first[column]])),
      "t=1": formatMeanSe(values((x) => x[0]), o.digits),
      [`t=${series[0].length}`]: formatMeanSe(values((x) => x[x.length - 1]), o.digits),
      "Δ": formatMeanSe(values((x) => x[x.length - 1] - x[0]), o.digits),
      ...(o.extra?.(first) ?? {}),
    };
  });
}
