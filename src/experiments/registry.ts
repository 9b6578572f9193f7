import type { Figure } from "../plots/plotly";
import type { Progress } from "../progress";
import type { RunStore } from "../store/runStore";
import { linearResultJson, runLinearExperiment } from "../linear/montecarlo";
import { SECTION2_FIGURES, section2Config } from "./linearRegression";
import { lmBaseConfig, runLmSequence } from "./languageModels";
import { type LmCurve, lmCrossEntropyFigure, lmLearningCurvesFigure } from "../plots/lmFigures";
import type { Profile } from "./profiles";

export interface ExperimentContext {
  store: RunStore | null;
  progress: (label: string, total: number) => Progress;
}

export interface ExperimentOutput {
  figures: Record<string, Figure>;
  json: unknown;
}

export interface Experiment {
  description: string;
  run(profile: Profile, ctx: ExperimentContext): Promise<ExperimentOutput>;
}

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
          figure2: SECTION2_FIGURES.figure2(result),
          figure9: SECTION2_FIGURES.figure9(result),
          "figure2-strategies": SECTION2_FIGURES.strategiesFigure(result),
          "figure2-normalized": SECTION2_FIGURES.normalizedFigure(result),
        },
        json: linearResultJson(result),
      };
    },
  },
  lm: {
    description: "§3.1 language models: Figures 3 and 4 (replace vs accumulate, GPT-2 at the profile's scale)",
    async run(profile, ctx) {
      const base = lmBaseConfig(profile);
      const bar = ctx.progress("model fits", 2 * base.iterations);
      const curves: LmCurve[] = [];
      const json: unknown[] = [];
      let fits = 0;
      for (const strategy of ["replace", "accumulate"] as const) {
        const result = await runLmSequence({ ...base, strategy }, { store: ctx.store, onIteration: () => bar.update(++fits, `${strategy}`) });
        fits += result.resumedFrom;
        curves.push({ label: base.model, strategy, records: result.records });
        json.push({
          model: base.model,
          strategy,
          parameters: result.parameters,
          backend: result.backend.backend,
          iterations: result.records.map((r) => ({ iteration: r.iteration, testCrossEntropy: r.metrics.testCrossEntropy, trainTokens: r.metrics.trainTokens, seconds: r.seconds })),
        });
      }
      bar.finish();
      return {
        figures: {
          figure3: lmCrossEntropyFigure(curves, "Figure 3: replace vs accumulate (test cross-entropy on real stories)"),
          [`figure4-${base.model}`]: lmLearningCurvesFigure(curves, `Figure 4: learning curves (${base.model})`),
        },
        json,
      };
    },
  },
} satisfies Record<string, Experiment>;
