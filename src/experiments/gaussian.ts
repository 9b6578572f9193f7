import type { Strategy } from "../collapse/strategies";
import type { GaussianSequenceConfig } from "../gaussian/modality";
import type { Profile } from "./profiles";

/**
 * A Figure 8 Gaussian sequence at a profile (all values ours: the paper reprints this loop from
 * Alemohammad et al. without sizes). Fitting is closed-form, so only the iteration count scales.
 */
export function gaussianBaseConfig(profile: Profile, strategy: Strategy = "replace"): GaussianSequenceConfig {
  return { dim: 2, samples: 50, strategy, iterations: profile === "smoke" ? 20 : 200, seed: 0, referenceSize: 200 };
}
