import type { Figure } from "../plots/plotly";
import type { Progress } from "../progress";
import type { RunStore } from "../store/runStore";
import { linearResultJson, runLinearExperiment } from "../linear/montecarlo";
import { SECTION2_FIGURES, section2Config } from "./linearRegression";
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
} satisfies Record<string, Experiment>;
