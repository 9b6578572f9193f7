import type { CollapseResult, IterationRecord } from "../collapse/loop";
import type { Strategy } from "../collapse/strategies";
import { type GaussianSequenceConfig, checkGaussianSequenceConfig, runGaussianSequence } from "../gaussian/modality";
import type { Profile } from "./profiles";
import type { SequenceKind } from "./sequences";

/**
 * A Figure 8 Gaussian sequence at a profile (all values ours: the paper reprints this loop from
 * Alemohammad et al. without sizes). Fitting is closed-form, so only the iteration count scales.
 */
export function gaussianBaseConfig(profile: Profile, strategy: Strategy = "replace"): GaussianSequenceConfig {
  return { dim: 2, samples: 50, strategy, iterations: profile === "smoke" ? 20 : 200, seed: 0, referenceSize: 200 };
}

/**
 * Gaussian sequences for runSequences (what `collapse sweep` runs). `collapse gaussian` keeps nothing, a
 * sequence being milliseconds; a sweep stores each one (kind "gaussian", keyed by its config) so that its
 * results can be read back like every other modality's and a re-run skips it.
 */
export const GAUSSIAN_SEQUENCES: SequenceKind<GaussianSequenceConfig, CollapseResult> = {
  entry: { module: __filename, exportName: "GAUSSIAN_SEQUENCES" },
  check: checkGaussianSequenceConfig,
  async run(config, opts) {
    const run = opts.store ? opts.store.open("gaussian", config) : null;
    try {
      const stored = run ? run.records<IterationRecord>() : [];
      if (run?.done) {
        for (const r of stored) opts.onIteration?.(r);
        return { records: stored, resumedFrom: stored.length };
      }
      const result = await runGaussianSequence(config);
      // Deterministic for its config: a run cut short between two appends gets only the records it lacks.
      for (const r of result.records) {
        if (r.iteration > stored.length) run?.append(r);
        opts.onIteration?.(r);
      }
      run?.finish({ iterations: result.records.length });
      return { records: result.records, resumedFrom: stored.length };
    } finally {
      run?.close();
    }
  },
  finishedIterations: (store, config) => store.recordCount("gaussian", config),
  cost: (c, finished) => c.iterations - finished,
  describe: (c) => `${c.dim}-D · ${c.strategy} · ${c.samples} samples`,
};
