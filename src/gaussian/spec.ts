import { type ModalitySpec, type SequenceResult, baseConfig } from "../collapse/spec";
import { runSequence, sequenceSetup } from "../collapse/runSequence";
import type { Profile } from "../collapse/profiles";
import type { Strategy } from "../collapse/strategies";
import { type GaussianSequenceConfig, checkGaussianSequenceConfig, defaultGaussianTruth, gaussianModality } from "./modality";

/**
 * §5 (Figure 8): sequences of multivariate Gaussians fit by maximum likelihood. `collapse gaussian`
 * keeps nothing, a sequence being milliseconds; a sweep stores each one (keyed by its config) so that
 * its results are read back like every other modality's and a re-run skips it. All sizes are ours:
 * the paper reprints this loop from Alemohammad et al. without them; fitting is closed-form, so only
 * the iteration count scales with the profile.
 */
export const GAUSSIAN: ModalitySpec<GaussianSequenceConfig, SequenceResult<GaussianSequenceConfig>, null, Record<string, never>, null> = {
  name: "gaussian",
  brief: "§5: one sequence of Gaussian fits (Figure 8's toy loop)",
  summary: "fit one §5 (Figure 8) sequence of multivariate Gaussians by maximum likelihood, each on samples of the fits before it",
  entry: { module: __filename, exportName: "GAUSSIAN" },
  profiles: {
    smoke: { dim: 2, samples: 50, strategy: "replace", iterations: 20, seed: 0, referenceSize: 200 },
    quick: { dim: 2, samples: 50, strategy: "replace", iterations: 200, seed: 0, referenceSize: 200 },
    // The same as quick and paper: milliseconds a sequence, nothing to scale down.
    medium: { dim: 2, samples: 50, strategy: "replace", iterations: 200, seed: 0, referenceSize: 200 },
    paper: { dim: 2, samples: 50, strategy: "replace", iterations: 200, seed: 0, referenceSize: 200 },
  },
  describe: (c) => `${c.dim}-D, ${c.samples} samples per set, ${c.iterations} iterations`,
  label: (c) => `${c.dim}-D · ${c.strategy} · ${c.samples} samples`,
  flags: [
    { flag: "dim", field: "dim", type: "int", help: ["D", "dimension; the truth is N(0, diag(1, 1/2, ..., 1/D))"] },
    { flag: "samples", field: "samples", type: "int", help: ["N", "real samples; every synthetic set has as many"] },
    { flag: "reference-size", field: "referenceSize", type: "int", help: ["N", "real points for precision/recall per iteration (0: skip them)"] },
    { flag: "fresh-real", field: "freshRealSamples", type: "int", help: ["N", "fresh real samples added at every iteration ≥ 2 (default 0)"], fallback: () => 0 },
  ],
  check: (c) => void checkGaussianSequenceConfig(c),
  tensors: false,
  stored: false,
  runKey: (c) => ({ ...c }),
  load: async () => null,
  setup: async (c) =>
    sequenceSetup({
      modality: gaussianModality({ truth: c.truth ?? defaultGaussianTruth(c.dim), referenceSize: c.referenceSize }),
      loop: { strategy: c.strategy, iterations: c.iterations, realSize: c.samples, freshRealSize: c.freshRealSamples ?? 0 },
      facts: {},
      extras: null,
    }),
  result: (base) => base,
  cost: (c, finished) => c.iterations - finished,
  scaleRealSet: (c, factor) => ({ ...c, samples: Math.max(2, Math.round(c.samples * factor)) }),
  verifiers: { oracle: "log density under the true Gaussian" },
  metrics: [
    { key: "frechetDistance", label: "Fréchet", digits: 4 },
    { key: "totalVariance", label: "total variance", digits: 4 },
    { key: "detRatio", label: "det Σ̂ / det Σ₀", digits: 4 },
    { key: "precision", label: "precision", digits: 3 },
    { key: "recall", label: "recall", digits: 3 },
  ],
  sizeUnit: "samples",
};

/** A Figure 8 sequence at a profile, under `strategy`. */
export function gaussianBaseConfig(profile: Profile, strategy: Strategy = "replace"): GaussianSequenceConfig {
  return { ...baseConfig(GAUSSIAN, profile), strategy };
}

/** Runs one Figure 8 sequence in memory (milliseconds per iteration). */
export function runGaussianSequence(c: GaussianSequenceConfig): Promise<SequenceResult<GaussianSequenceConfig>> {
  return runSequence(GAUSSIAN, c);
}
