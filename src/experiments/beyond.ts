import { type Profile, withSeeds } from "../collapse/profiles";
import { type AnyModalitySpec, type ModalitySpec, type SequenceConfig, type SequenceResult, baseConfig } from "../collapse/spec";
import type { Strategy } from "../collapse/strategies";
import { modalityNames, modalitySpec } from "../modalities";
import type { Figure } from "../plots/plotly";
import { type CurationCurve, type ProportionRun, curationFigure, drawsPerKept, proportionFigure, proportionLines } from "../plots/studyFigures";
import { CURATION_KEEP, type Experiment, type ExperimentContext, sequencesOf, withProgress } from "./experiment";
import { linearCurationExperiment, linearProportionExperiment, linearProportionStudyFigure, runLinearCuration, runLinearProportion } from "./linearRegression";
import { linearCurationFigure } from "../linear/figures";
import { linearResultJson } from "../linear/montecarlo";

// Two studies beyond the paper, run the same way for every registered modality through its spec:
// curated synthetic data, and the share of real data at a fixed training-set size. Their sizes, shares
// and verifier choices are ours.

/** The verifier the curation study uses for a spec: its first. */
export function studyVerifier(spec: AnyModalitySpec): string | null {
  return Object.keys(spec.verifiers ?? {})[0] ?? null;
}

/** Modalities with verifiers, in registration order. */
function curatedSpecs(): AnyModalitySpec[] {
  return modalityNames()
    .map((n) => modalitySpec(n)!)
    .filter((s) => studyVerifier(s) !== null);
}

/** What a reader may change of the curation study (the notebook's config cell). */
export interface CurationStudyOptions {
  /** Default: the spec's first verifier. */
  verifier?: string;
  /** Default CURATION_KEEP. */
  keep?: number;
  /** Default replace and accumulate. */
  strategies?: Strategy[];
}

/** The curation study's sequences of one modality: its profile's base config under each strategy, plain and curated. */
export function curationConfigs<C extends SequenceConfig>(spec: ModalitySpec<C, SequenceResult<C>, unknown, unknown, unknown>, profile: Profile, o: CurationStudyOptions = {}): C[] {
  const verifier = o.verifier ?? studyVerifier(spec as unknown as AnyModalitySpec);
  const base = baseConfig(spec, profile);
  const strategies: Strategy[] = o.strategies ?? ["replace", "accumulate"];
  return strategies.flatMap((strategy) => [{ ...base, strategy }, ...(verifier ? [{ ...base, strategy, curation: { verifier, keep: o.keep ?? CURATION_KEEP } }] : [])]);
}

/** "reference, keep 50%": a curation config in a legend. */
export function curationLabel(c: SequenceConfig): string | null {
  if (!c.curation) return null;
  return `${c.curation.verifier}, ${c.curation.keep !== undefined ? `keep ${Math.round(c.curation.keep * 100)}%` : `score ≥ ${c.curation.threshold}`}`;
}

/** Curated vs plain synthetic data for one modality, from its finished (or stored) sequences. */
export function modalityCurationFigure(spec: AnyModalitySpec, runs: readonly SequenceResult[], x: "iteration" | "compute" = "iteration"): Figure {
  const [metric] = spec.metrics;
  const curves: CurationCurve[] = runs.map((r) => ({ strategy: r.config.strategy, curation: curationLabel(r.config), records: r.records }));
  return curationFigure(curves, { metric: metric.key, axisTitle: metric.header ?? metric.label, x }, `${spec.name}: curated vs plain synthetic data`);
}

/** Real shares of the proportion study (ours): eleven for closed-form fits, five for trained models, three at smoke. */
export function proportionShares(spec: AnyModalitySpec, profile: Profile): number[] {
  if (profile === "smoke") return [0, 0.5, 1];
  return spec.tensors ? [0, 0.25, 0.5, 0.75, 1] : Array.from({ length: 11 }, (_, k) => k / 10);
}

/** Real set sizes of the proportion study as factors of the profile's (ours); one where the spec cannot scale its real set, and for trained models at smoke. */
export function proportionFactors(spec: AnyModalitySpec, profile: Profile): number[] {
  if (!spec.scaleRealSet) return [1];
  if (profile === "smoke") return spec.tensors ? [1] : [0.5, 1];
  return spec.tensors ? [0.25, 1] : [0.25, 1, 4];
}

/** What a reader may change of the proportion study: the real shares, the real set sizes (factors of the profile's) and seeds per point. */
export interface ProportionStudyOptions {
  shares?: number[];
  factors?: number[];
  seeds?: number;
}

/**
 * Seeds per point of the proportion study (ours): a closed-form fit's last iteration is one draw of a
 * random walk, so its points average several; a trained model's sequence is minutes, so one.
 */
export function proportionSeeds(spec: AnyModalitySpec, profile: Profile): number {
  if (spec.tensors) return 1;
  return profile === "smoke" ? 2 : 5;
}

/** The proportion study's sequences of one modality: replace at every real share and real set size. */
export function proportionConfigs<C extends SequenceConfig>(spec: ModalitySpec<C, SequenceResult<C>, unknown, unknown, unknown>, profile: Profile, o: ProportionStudyOptions = {}): C[] {
  const any = spec as unknown as AnyModalitySpec;
  return (o.factors ?? proportionFactors(any, profile)).flatMap((factor) => {
    const base = { ...baseConfig(spec, profile), strategy: "replace" as const };
    const sized = factor === 1 || !spec.scaleRealSet ? base : spec.scaleRealSet(base, factor);
    return withSeeds(
      (o.shares ?? proportionShares(any, profile)).map((realShare) => ({ ...sized, realShare })),
      o.seeds ?? proportionSeeds(any, profile),
    );
  });
}

/** The proportion figure of one modality: its first metric at the last iteration against the real share. */
export function modalityProportionFigure(spec: AnyModalitySpec, runs: readonly SequenceResult[]): Figure {
  const [metric] = spec.metrics;
  const points: ProportionRun[] = runs.map((r) => ({ label: `${r.records[0].trainSize} ${spec.sizeUnit}`, realShare: r.config.realShare ?? 0, records: r.records }));
  return proportionFigure(proportionLines(points, metric.key), { axisTitle: `${metric.header ?? metric.label}, last iteration`, title: `${spec.name}: the share of real data at a fixed training-set size (replace)` });
}

function recordsJson(runs: readonly SequenceResult[]) {
  return runs.map((r) => ({
    strategy: r.config.strategy,
    seed: r.config.seed,
    ...(r.config.curation ? { curation: r.config.curation, drawsPerKept: drawsPerKept(r.records) } : {}),
    ...(r.config.realShare !== undefined ? { realShare: r.config.realShare, realSetSize: r.records[0].trainSize } : {}),
    iterations: r.records.map((x) => ({ iteration: x.iteration, ...x.metrics, ...(x.compute ? { compute: x.compute } : {}), ...(x.curation ? { curation: x.curation } : {}) })),
  }));
}

async function runEach(specs: readonly AnyModalitySpec[], configsOf: (spec: AnyModalitySpec) => SequenceConfig[], ctx: ExperimentContext): Promise<Map<AnyModalitySpec, SequenceResult[]>> {
  const out = new Map<AnyModalitySpec, SequenceResult[]>();
  for (const spec of specs) out.set(spec, await withProgress(spec, configsOf(spec), ctx));
  return out;
}

export const CURATION: Experiment = {
  description: "beyond the paper: curated synthetic data — replace and accumulate, plain and with each modality's first verifier keeping half of what the model draws, for every modality with verifiers",
  async run(profile, ctx) {
    // §2 first: its closed-form Monte Carlo has no spec (Monte Carlo only: no closed form under curation is known here).
    const linear = await runLinearCuration(linearCurationExperiment(profile), { store: ctx.store });
    const figures: Record<string, Figure> = { "curation-linear": linearCurationFigure(linear) };
    const results = await runEach(curatedSpecs(), (spec) => curationConfigs(spec, profile), ctx);
    for (const [spec, runs] of results) {
      figures[`curation-${spec.name}`] = modalityCurationFigure(spec, runs);
      figures[`curation-${spec.name}-compute`] = modalityCurationFigure(spec, runs, "compute");
    }
    return { figures, json: { linear: linear.map((v) => ({ label: v.label, ...(linearResultJson(v.result) as object) })), ...Object.fromEntries([...results].map(([spec, runs]) => [spec.name, recordsJson(runs)])) } };
  },
  sequences: (profile) => curatedSpecs().map((spec) => sequencesOf(spec, curationConfigs(spec, profile))),
};

export const PROPORTION: Experiment = {
  description: "beyond the paper: the share of real data in training sets of a fixed size (replace with a real share), at several real set sizes, for every modality",
  async run(profile, ctx) {
    // §2 with the exact expectation over label noise given each design (see linear/theory.ts realShareTheory).
    const linear = linearProportionStudyFigure(await runLinearProportion(linearProportionExperiment(profile), { store: ctx.store }));
    const specs = modalityNames().map((n) => modalitySpec(n)!);
    const results = await runEach(specs, (spec) => proportionConfigs(spec, profile), ctx);
    const figures: Record<string, Figure> = { "proportion-linear": linear.figure };
    for (const [spec, runs] of results) figures[`proportion-${spec.name}`] = modalityProportionFigure(spec, runs);
    return { figures, json: { linear: linear.points, ...Object.fromEntries([...results].map(([spec, runs]) => [spec.name, recordsJson(runs)])) } };
  },
  sequences: (profile) => modalityNames().map((n) => sequencesOf(modalitySpec(n)!, proportionConfigs(modalitySpec(n)!, profile))),
};
