import { ConfigError } from "../errors";

/**
 * Every experiment runs at four scales through the same code path:
 * - smoke: seconds, for the test suite and CI;
 * - quick: minutes on a laptop CPU;
 * - medium: the paper's data and (smallest) models on a share of the data, about a night on a
 *   many-core CPU or an hour or two on one GPU (needs the real datasets);
 * - paper: the paper's sizes (a GPU or native backend for the neural sections).
 * Each modality's base config per profile is in its spec (`profiles`); `collapse profiles` prints them all.
 */
export const PROFILES = ["smoke", "quick", "medium", "paper"] as const;
export type Profile = (typeof PROFILES)[number];

export function checkProfile(value: unknown, field = "profile"): Profile {
  if (typeof value !== "string" || !(PROFILES as readonly string[]).includes(value)) {
    throw new ConfigError(field, `expected one of ${PROFILES.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as Profile;
}

/** The profile a notebook runs at: $COLLAPSE_PROFILE (set by the headless runner), else `fallback`. */
export function profileFromEnv(fallback: Profile = "quick", env: NodeJS.ProcessEnv = process.env): Profile {
  return env.COLLAPSE_PROFILE ? checkProfile(env.COLLAPSE_PROFILE, "COLLAPSE_PROFILE") : fallback;
}

/** `config` once per seed, seeds config.seed, config.seed + 1, ...: sequences that differ only in seed. */
export function withSeeds<C extends { seed: number }>(configs: readonly C[], seeds: number): C[] {
  if (!Number.isInteger(seeds) || seeds < 1) throw new ConfigError("seeds", `must be an integer ≥ 1, got ${seeds}`);
  return configs.flatMap((c) => Array.from({ length: seeds }, (_, k) => ({ ...c, seed: c.seed + k })));
}
