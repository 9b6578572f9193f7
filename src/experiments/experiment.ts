import type { AnyModalitySpec, ModalitySpec, SequenceConfig, SequenceResult } from "../collapse/spec";
import { runSequences, storedFits } from "../collapse/sequences";
import { withSeeds } from "../collapse/profiles";
import type { Profile } from "../collapse/profiles";
import type { Strategy } from "../collapse/strategies";
import type { Figure } from "../plots/plotly";
import type { Progress } from "../progress";
import type { RunStore } from "../store/runStore";

// What an experiment of `collapse reproduce` is, and the helpers every experiment module shares.

export interface ExperimentContext {
  store: RunStore | null;
  progress: (label: string, total: number) => Progress;
  /**
   * Sequences per (model, strategy) in the §3.1 (Figures 3, 4), §3.2, §3.3 and §5 experiments, seeds
   * S..S+K−1 (default: defaultSeeds(profile, experiment)); the figures draw their mean with a ±1 SE
   * band. The appendix (Table 2) and the controls stay single-seed.
   */
  seeds?: number;
}

export interface ExperimentOutput {
  figures: Record<string, Figure>;
  json: unknown;
  /** Other files to write next to the figures (name → content), e.g. a table as CSV. */
  files?: Record<string, string>;
}

export interface Experiment {
  description: string;
  run(profile: Profile, ctx: ExperimentContext): Promise<ExperimentOutput>;
  /** The sequences it trains at `profile` (what `collapse plan --reproduce` plans); none for §2's closed-form Monte Carlo. */
  sequences?(profile: Profile, seeds?: number): ExperimentSequences[];
}

/** Sequences of one modality an experiment runs. */
export interface ExperimentSequences {
  spec: AnyModalitySpec;
  configs: SequenceConfig[];
}

/** Share of the drawn synthetic samples the curation studies keep (ours), for §2 and every modality alike. */
export const CURATION_KEEP = 0.5;

/** An experiment's sequences of one modality. */
export const sequencesOf = (spec: AnyModalitySpec, configs: SequenceConfig[]): ExperimentSequences => ({ spec, configs });

/** The base config once per strategy and seed (seeds base.seed, +1, ...). */
export function strategyConfigs<C extends { strategy: Strategy; seed: number }>(base: C, strategies: readonly Strategy[] = ["replace", "accumulate"], seeds = 1): C[] {
  return withSeeds(strategies.map((strategy) => ({ ...base, strategy })), seeds);
}

/** Sequences through runSequences (in parallel where a store allows it), counting model fits. */
export async function withProgress<C extends SequenceConfig, R extends SequenceResult<C>, L, F, X>(spec: ModalitySpec<C, R, L, F, X>, configs: readonly C[], ctx: ExperimentContext): Promise<R[]> {
  const bar = ctx.progress("model fits", configs.reduce((s, c) => s + c.iterations, 0));
  let fits = storedFits(spec, configs, ctx.store);
  const results = await runSequences(spec, configs, {
    store: ctx.store,
    onIteration: (i) => bar.update(++fits, spec.label(configs[i])),
  });
  bar.finish();
  return results;
}

