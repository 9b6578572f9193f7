import type { Profile } from "../collapse/profiles";

/** The experiments whose figures draw several seeds (mean ± SE), by their `collapse reproduce` names. */
export type SeededExperiment = "lm" | "molecules" | "vae" | "augmentation";

/**
 * Seeds per neural sequence of an experiment (the kit's choice; the paper reports single runs): three
 * at `paper`; at `quick` two for §3.1's Figure 3 and §3.3's Figure 6, where the spread between seeds
 * decides how the strategies compare, and one for §3.2 and §5 (the quick budget holds no more); one at
 * `medium` (its night is sized for one sequence per model and strategy; `--seeds 2` doubles it) and
 * at `smoke`.
 */
export function defaultSeeds(profile: Profile, experiment: SeededExperiment): number {
  switch (profile) {
    case "paper":
      return 3;
    case "quick":
      return experiment === "lm" || experiment === "vae" ? 2 : 1;
    case "medium":
    case "smoke":
      return 1;
  }
}
