import type { Figure } from "../plots/plotly";
import { linearResultJson, runLinearExperiment } from "../linear/montecarlo";
import { SECTION2_FIGURES, figure2Name, figure2Sigma2s, section2Config } from "./linearRegression";
import type { LmSequenceResult } from "../lm/sequence";
import { LM, lmBaseConfig } from "../lm/spec";
import { SequenceResults, appendixSequences, lmAppendixConfig, table2Display, table2Files, table2Frame } from "./lmAppendix";
import { metricByIterationFigure } from "../plots/metricFigures";
import { CONTROL_STRATEGIES, type Strategy } from "../collapse/strategies";
import type { IterationRecord } from "../collapse/loop";
import { gaussianBaseConfig, runGaussianSequence } from "../gaussian/spec";
import { defaultCoverageThreshold } from "../molecules/sequence";
import { MOLECULES, moleculeBaseConfig } from "../molecules/spec";
import { figure3, figure4, lmTails, lmTextMeasures, figure10, figure11, lmControlsFigure, lmFigure3Models, figure5, figure6, figure8Gaussian, figure8Vae, moleculeControlsFigure, moleculeCoverageFigure, moleculeMatchingFigure, vaeAttributesFigure, vaeControlsFigure, vaeFidelityFigure } from "./paperFigures";
import { type ModalitySpec, type SequenceConfig, type SequenceResult, baseConfig } from "../collapse/spec";
import { modalityNames, modalitySpec } from "../modalities";
import { VAE, vaeBaseConfig } from "../vae/spec";
import { runsFrame } from "../store/frames";
import type { Profile } from "../collapse/profiles";
import { defaultSeeds } from "./seeds";
import { CURATION, PROPORTION } from "./beyond";
import { type Experiment, sequencesOf, strategyConfigs, withProgress } from "./experiment";
import { THRIVE } from "./thrive";

export type { Experiment, ExperimentContext, ExperimentOutput, ExperimentSequences } from "./experiment";


const figure3Configs = (profile: Profile, seeds?: number) => lmFigure3Models(profile).flatMap((model) => strategyConfigs({ ...lmBaseConfig(profile), model }, undefined, seeds ?? defaultSeeds(profile, "lm")));
const moleculeConfigs = (profile: Profile, seeds?: number) => strategyConfigs(moleculeBaseConfig(profile), undefined, seeds ?? defaultSeeds(profile, "molecules"));
const vaeConfigs = (profile: Profile, seeds?: number) => strategyConfigs(vaeBaseConfig(profile), undefined, seeds ?? defaultSeeds(profile, "vae"));
const AUGMENTATION_STRATEGIES = ["replace", "augment", "accumulate"] as const;
const augmentationConfigs = (profile: Profile, seeds?: number) => strategyConfigs(vaeBaseConfig(profile), AUGMENTATION_STRATEGIES, seeds ?? defaultSeeds(profile, "augmentation"));

/** What `collapse reproduce` runs; each paper section registers one entry. */
export const EXPERIMENTS = {
  linear: {
    description: "§2 linear regression: Figures 2 and 9, strategy ablations",
    async run(profile, ctx) {
      const config = section2Config(profile);
      const bar = ctx.progress("sequences", config.settings.length * config.strategies.length * config.seeds);
      const result = await runLinearExperiment(config, {
        store: ctx.store,
        onProgress: (p) => bar.update((p.cell - 1) * p.seeds + p.seedsDone),
      });
      bar.finish(`${result.seconds.toFixed(1)}s`);
      return {
        figures: {
          ...Object.fromEntries(figure2Sigma2s(result).flatMap((s) => [[figure2Name("figure2", s), SECTION2_FIGURES.figure2(result, s)], [figure2Name("figure9", s), SECTION2_FIGURES.figure9(result, s)]])),
          "figure2-strategies": SECTION2_FIGURES.strategiesFigure(result),
          "figure2-strategies-compute": SECTION2_FIGURES.strategiesFigure(result, "compute"),
          "figure2-normalized": SECTION2_FIGURES.normalizedFigure(result),
        },
        json: linearResultJson(result),
      };
    },
  },
  lm: {
    description: "§3.1 language models: Figures 3 and 4 (replace vs accumulate, GPT-2 and Llama-2 at the profile's scale)",
    async run(profile, ctx) {
      const base = lmBaseConfig(profile);
      const models = lmFigure3Models(profile);
      const results = await withProgress(LM, figure3Configs(profile, ctx.seeds), ctx);
      const figures: Record<string, Figure> = { figure3: figure3(results), "figure3-compute": figure3(results, { x: "compute" }), "section3_1-text-measures": lmTextMeasures(results), "section3_1-tails": lmTails(results) };
      for (const model of models) figures[`figure4-${model}`] = figure4(results, model, { x: "epochs", epochs: base.train.epochs ?? 1 });
      return { figures, json: results.map(lmResultJson) };
    },
    sequences: (profile, seeds) => [sequencesOf(LM, figure3Configs(profile, seeds))],
  },
  "lm-appendix": {
    description: "§3.1 appendix: Figure 10 (temperature), Figure 11 (first-model training), Table 2 (CSV and Markdown)",
    async run(profile, ctx) {
      const appendix = lmAppendixConfig(profile);
      const runs = await withProgress(LM, appendixSequences(appendix), ctx);
      const results = new SequenceResults(runs);
      const table2 = table2Frame(appendix, runsFrame(runs));
      return {
        figures: {
          figure10: figure10(appendix, results),
          figure11: figure11(appendix, results),
          "section3_1-controls": lmControlsFigure(appendix, results),
          "section3_1-controls-compute": lmControlsFigure(appendix, results, { x: "compute" }),
        },
        json: { table2: table2Display(table2) },
        files: table2Files(table2),
      };
    },
    sequences: (profile) => [sequencesOf(LM, appendixSequences(lmAppendixConfig(profile)))],
  },
  molecules: {
    description: "§3.2 conformation diffusion: Figure 5 (test loss), COV and MAT per iteration",
    async run(profile, ctx) {
      const base = moleculeBaseConfig(profile);
      const runs = await withProgress(MOLECULES, moleculeConfigs(profile, ctx.seeds), ctx);
      return {
        figures: {
          figure5: figure5(runs),
          "figure5-compute": figure5(runs, { x: "compute" }),
          "section3_2-coverage": moleculeCoverageFigure(runs, defaultCoverageThreshold(base.data)),
          "section3_2-matching": moleculeMatchingFigure(runs),
        },
        json: runs.map((r) => ({ strategy: r.config.strategy, parameters: r.parameters, iterations: r.records.map((x) => ({ iteration: x.iteration, ...x.metrics, seconds: x.seconds })) })),
      };
    },
    sequences: (profile, seeds) => [sequencesOf(MOLECULES, moleculeConfigs(profile, seeds))],
  },
  vae: {
    description: "§3.3 VAEs on faces: Figure 6 (test −ELBO), attribute frequencies, feature Fréchet/precision/recall",
    async run(profile, ctx) {
      const runs = await withProgress(VAE, vaeConfigs(profile, ctx.seeds), ctx);
      return {
        figures: {
          figure6: figure6(runs),
          "figure6-compute": figure6(runs, { x: "compute" }),
          "section3_3-attributes": vaeAttributesFigure(runs, runs[0].realFrequencies),
          "section3_3-fidelity": vaeFidelityFigure(runs),
        },
        json: runs.map((r) => ({ strategy: r.config.strategy, parameters: r.parameters, iterations: r.records.map((x) => ({ iteration: x.iteration, ...x.metrics, seconds: x.seconds })) })),
      };
    },
    sequences: (profile, seeds) => [sequencesOf(VAE, vaeConfigs(profile, seeds))],
  },
  augmentation: {
    description: "§5 Figure 8 re-run: replace, augment and accumulate on a 2-D Gaussian and on the VAE",
    async run(profile, ctx) {
      const gaussian = [];
      for (const strategy of AUGMENTATION_STRATEGIES) {
        gaussian.push({ strategy, records: (await runGaussianSequence(gaussianBaseConfig(profile, strategy))).records });
      }
      const vae = await withProgress(VAE, augmentationConfigs(profile, ctx.seeds), ctx);
      return {
        figures: {
          "figure8-gaussian": figure8Gaussian(gaussian, gaussianBaseConfig(profile).dim),
          "figure8-vae": figure8Vae(vae),
        },
        json: vae.map((r) => ({ strategy: r.config.strategy, iterations: r.records.map((x) => ({ iteration: x.iteration, ...x.metrics })) })),
      };
    },
    sequences: (profile, seeds) => [sequencesOf(VAE, augmentationConfigs(profile, seeds))],
  },
  controls: {
    description: "the reviewers' controls beyond §3.1 (whose controls figure is lm-appendix's): replace, replace-multiple, replace-matched-compute, accumulate-subsample and accumulate for the molecules, the VAE and the Gaussian (the §3.2 and §3.3 notebooks draw theirs too)",
    async run(profile, ctx) {
      const gaussian = [];
      for (const strategy of CONTROL_STRATEGIES) gaussian.push({ label: "Gaussian (2-D)", strategy, records: (await runGaussianSequence(gaussianBaseConfig(profile, strategy))).records });
      const molecules = await withProgress(MOLECULES, strategyConfigs(moleculeBaseConfig(profile), CONTROL_STRATEGIES), ctx);
      const vae = await withProgress(VAE, strategyConfigs(vaeBaseConfig(profile), CONTROL_STRATEGIES), ctx);
      const json = (runs: readonly { config: { strategy: Strategy }; records: IterationRecord[] }[]) => runs.map((r) => ({ strategy: r.config.strategy, iterations: r.records.map((x) => ({ iteration: x.iteration, ...x.metrics, ...(x.trainingScale ? { trainingScale: x.trainingScale } : {}) })) }));
      return {
        figures: {
          "controls-molecules": moleculeControlsFigure(molecules),
          "controls-molecules-compute": moleculeControlsFigure(molecules, { x: "compute" }),
          "controls-vae": vaeControlsFigure(vae),
          "controls-vae-compute": vaeControlsFigure(vae, { x: "compute" }),
          "controls-gaussian": metricByIterationFigure(gaussian, { metric: "frechetDistance", axisTitle: "Fréchet distance" }, "Controls (§5 Gaussian): Fréchet distance to the truth"),
        },
        json: { molecules: json(molecules), vae: json(vae), gaussian: gaussian.map((g) => ({ strategy: g.strategy, iterations: g.records.map((x) => ({ iteration: x.iteration, ...x.metrics })) })) },
      };
    },
    sequences: (profile) => [sequencesOf(MOLECULES, strategyConfigs(moleculeBaseConfig(profile), CONTROL_STRATEGIES)), sequencesOf(VAE, strategyConfigs(vaeBaseConfig(profile), CONTROL_STRATEGIES))],
  },
  curation: CURATION,
  proportion: PROPORTION,
  thrive: THRIVE,
} satisfies Record<string, Experiment>;

/**
 * The experiment `collapse reproduce --only NAME` runs: a paper section's (EXPERIMENTS), else for any
 * registered modality, its profile's base sequence under replace and accumulate with the figure of its
 * first metric; undefined for neither.
 */
export function experimentNamed(name: string): Experiment | undefined {
  if (Object.hasOwn(EXPERIMENTS, name)) return EXPERIMENTS[name as keyof typeof EXPERIMENTS];
  const spec = modalitySpec(name);
  return spec && modalityExperiment(spec);
}

/** The registered modalities `reproduce` runs only when named (the paper's sections run by default). */
export function extraExperimentNames(): string[] {
  return modalityNames().filter((n) => !Object.hasOwn(EXPERIMENTS, n));
}

function modalityExperiment<C extends SequenceConfig, R extends SequenceResult<C>, L, F, X>(spec: ModalitySpec<C, R, L, F, X>): Experiment {
  const [metric] = spec.metrics;
  return {
    description: `${spec.name}: ${spec.brief}; replace vs accumulate at the profile's base config`,
    async run(profile, ctx) {
      const runs = await withProgress(spec, strategyConfigs(baseConfig(spec, profile), undefined, ctx.seeds ?? 1), ctx);
      const curves = runs.map((r) => ({ label: spec.name, strategy: r.config.strategy, records: r.records }));
      return {
        figures: { [spec.name]: metricByIterationFigure(curves, { metric: metric.key, axisTitle: metric.label }, `${spec.name}: ${metric.label}`) },
        json: runs.map((r) => ({ strategy: r.config.strategy, seed: r.config.seed, iterations: r.records.map((x) => ({ iteration: x.iteration, ...x.metrics })) })),
      };
    },
    sequences: (profile, seeds) => [sequencesOf(modalitySpec(spec.name)!, strategyConfigs(baseConfig(spec, profile), undefined, seeds ?? 1))],
  };
}

function lmResultJson(r: LmSequenceResult) {
  return {
    model: r.config.model,
    strategy: r.config.strategy,
    parameters: r.parameters,
    backend: r.backend?.backend,
    iterations: r.records.map((x) => ({ iteration: x.iteration, testCrossEntropy: x.metrics.testCrossEntropy, trainTokens: x.metrics.trainTokens, seconds: x.seconds })),
  };
}
