import { ConfigError, checkInt, checkKnownKeys, checkNumber, checkOneOf } from "../errors";
import type { Rng } from "../random";

/**
 * How the training set of model n is built from the data seen so far.
 * - `replace`: only the newest synthetic set (the setting of prior work: collapse).
 * - `accumulate`: all real data plus every synthetic set so far (the paper's proposal).
 * - `replace-multiple`: replace, but the newest synthetic set is as large as accumulate's training set.
 * - `accumulate-subsample`: the accumulated pool, subsampled to the first iteration's size.
 * - `augment`: the original real data plus only the newest synthetic set (Alemohammad et al. 2023).
 * - `replace-matched-compute`: replace's data, trained for as many optimizer steps as accumulate takes at
 *   the same iteration (a reviewers' control: is accumulate better only because it trains longer?).
 */
export const STRATEGIES = ["replace", "accumulate", "replace-multiple", "accumulate-subsample", "augment", "replace-matched-compute"] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** The reviewers' controls beside the paper's two strategies, in the order the controls figures draw them. */
export const CONTROL_STRATEGIES: readonly Strategy[] = ["replace", "replace-multiple", "replace-matched-compute", "accumulate-subsample", "accumulate"];

/** Where a piece of training data came from. */
export type Origin = "real" | "synthetic";

/**
 * One dataset in the pool. `generation` is, for synthetic data, the index of the model that sampled it
 * (1-based); for real data, the iteration at which it was drawn (1 = the original real set).
 */
export interface Part<D> {
  readonly data: D;
  readonly origin: Origin;
  readonly generation: number;
}

/** The data-flow settings of a sequence of model fits; everything here is plain JSON so it can key a run. */
export interface LoopConfig {
  strategy: Strategy;
  /** Number of models fit in sequence (model 1 is fit on real data only). */
  iterations: number;
  /** Size of the original real training set (T). */
  realSize: number;
  /**
   * Synthetic samples drawn from model m for the next iterations: one number for every m, or a list
   * (entry m-1 for model m). Defaults to `realSize` (the paper's constant schedule).
   */
  syntheticSizes?: number | readonly number[];
  /** Fresh real samples added at every iteration n ≥ 2 (0 = none, the paper's main setting). */
  freshRealSize?: number;
  /** Verifier-filtered synthetic data: every synthetic set is curated before it enters the pool. */
  curation?: CurationConfig;
  /**
   * The proportion setting (replace only): every model n ≥ 2 trains on `realSize` samples of which
   * round(realShare·realSize) are real (the first ones of the original set, the same every time) and the
   * rest are the newest model's samples. 0 is replace; 1 retrains on that real subset alone.
   */
  realShare?: number;
}

/**
 * Curation (Feng et al. 2025; "Escaping model collapse via synthetic data verification", 2026): a
 * verifier scores each sample a model draws and only the best enter the pool, the set keeping its
 * scheduled size. Either `keep` (draw size/keep samples, keep the `size` best) or `threshold` (keep
 * samples scoring at least that, drawing sets of the scheduled size until enough passed).
 */
export interface CurationConfig {
  /** A verifier of the modality (its spec's `verifiers` names them). */
  verifier: string;
  /** Share of the drawn samples kept, in (0, 1]. */
  keep?: number;
  /** The lowest score kept. */
  threshold?: number;
  /** With a threshold: the most samples drawn per sample kept before the sequence stops with an error (default 20). */
  maxDraws?: number;
}

/** With a threshold: at most this many samples drawn per sample kept, unless the config says otherwise. */
export const DEFAULT_MAX_DRAWS = 20;

/** Checks a curation config (the verifier's name is checked against the modality by its caller). */
export function checkCuration(field: string, c: CurationConfig): Required<Pick<CurationConfig, "verifier">> & CurationConfig {
  if (typeof c !== "object" || c === null || Array.isArray(c)) throw new ConfigError(field, "expected {verifier, keep} or {verifier, threshold}");
  checkKnownKeys(field, c, ["verifier", "keep", "threshold", "maxDraws"]);
  if (typeof c.verifier !== "string" || c.verifier === "") throw new ConfigError(`${field}.verifier`, "names the verifier that scores synthetic samples");
  if ((c.keep === undefined) === (c.threshold === undefined)) throw new ConfigError(field, "needs exactly one of keep (a share of the drawn samples) and threshold (a lowest score)");
  if (c.keep !== undefined) checkNumber(`${field}.keep`, c.keep, { exclusiveMin: 0, max: 1 });
  if (c.threshold !== undefined) checkNumber(`${field}.threshold`, c.threshold, {});
  if (c.maxDraws !== undefined) {
    if (c.threshold === undefined) throw new ConfigError(`${field}.maxDraws`, "applies to a threshold only");
    checkNumber(`${field}.maxDraws`, c.maxDraws, { min: 1 });
  }
  return c;
}

/** Checks the modifiers a config sets (curation, a real share) for its strategy; `f` names a field as the config does. */
export function checkModifiers(c: Pick<LoopConfig, "curation" | "realShare">, strategy: Strategy, f: (name: string) => string = (name) => name): void {
  if (c.curation !== undefined) checkCuration(f("curation"), c.curation);
  if (c.realShare !== undefined) {
    checkNumber(f("realShare"), c.realShare, { min: 0, max: 1 });
    if (strategy !== "replace") throw new ConfigError(f("realShare"), `sets a fixed real share of replace's training sets; it does not apply to ${strategy}`);
  }
}

/** The error for curating with a verifier the modality does not have. */
export function unknownVerifier(name: string, known: readonly string[]): ConfigError {
  return new ConfigError("curation.verifier", `no verifier ${JSON.stringify(name)} here; ${known.length ? `known: ${known.join(", ")}` : "this modality has none"}`);
}

/** A loop config with its defaults filled in (curation and a real share stay optional). */
export type CheckedLoopConfig = Required<Omit<LoopConfig, "curation" | "realShare">> & Pick<LoopConfig, "curation" | "realShare">;

/** Validates a loop config, naming the offending field. Returns it with defaults filled in. */
export function checkLoopConfig(config: LoopConfig, prefix = ""): CheckedLoopConfig {
  const f = (name: string) => (prefix ? `${prefix}.${name}` : name);
  if (typeof config !== "object" || config === null) throw new ConfigError(prefix || "config", "expected an object");
  const strategy = checkOneOf(f("strategy"), config.strategy, STRATEGIES);
  const iterations = checkInt(f("iterations"), config.iterations, { min: 1 });
  const realSize = checkInt(f("realSize"), config.realSize, { min: 1 });
  const freshRealSize = checkInt(f("freshRealSize"), config.freshRealSize ?? 0, { min: 0 });
  const sizes = config.syntheticSizes ?? realSize;
  if (Array.isArray(sizes)) {
    if (sizes.length < iterations - 1) {
      throw new ConfigError(f("syntheticSizes"), `lists ${sizes.length} sizes but ${iterations} iterations need ${iterations - 1}`);
    }
    sizes.forEach((s, i) => checkInt(`${f("syntheticSizes")}[${i}]`, s, { min: 1 }));
  } else {
    checkInt(f("syntheticSizes"), sizes, { min: 1 });
  }
  checkModifiers(config, strategy, f);
  if (config.realShare !== undefined) {
    const constant = typeof sizes === "number" ? sizes === realSize : (sizes as readonly number[]).every((s: number) => s === realSize);
    if (!constant) throw new ConfigError(f("realShare"), "sets the synthetic sets' size itself (the rest of realSize); it needs the constant schedule (synthetic sets as large as the real set)");
  }
  return { strategy, iterations, realSize, syntheticSizes: sizes, freshRealSize, ...(config.curation !== undefined ? { curation: config.curation } : {}), ...(config.realShare !== undefined ? { realShare: config.realShare } : {}) };
}

/** Real samples of the original set that every later model keeps under a real share (null: none). */
export function keptRealSize(config: Pick<LoopConfig, "realSize" | "realShare">): number | null {
  return config.realShare === undefined ? null : Math.round(config.realShare * config.realSize);
}

/** Samples model m adds to the pool under the schedule (before replace-multiple's growth). */
export function scheduledSyntheticSize(config: CheckedLoopConfig, m: number): number {
  const s = config.syntheticSizes;
  return typeof s === "number" ? s : s[m - 1];
}

/**
 * How many samples to draw from model m (m < iterations). Replace-multiple draws as many as
 * accumulate's synthetic-plus-original-real total would hold at iteration m+1.
 */
export function samplesToDraw(config: CheckedLoopConfig, m: number): number {
  const kept = keptRealSize(config);
  if (kept !== null) return config.realSize - kept;
  if (config.strategy !== "replace-multiple") return scheduledSyntheticSize(config, m);
  let total = config.realSize;
  for (let k = 1; k <= m; k++) total += scheduledSyntheticSize(config, k);
  return total;
}

/** The pool of data produced so far, in the order it was produced. */
export interface Pool<D> {
  /** real[0] is the original real set; real[k] the fresh real set drawn at iteration k+2. */
  readonly real: Part<D>[];
  /** synthetic[m-1] was sampled from model m. */
  readonly synthetic: Part<D>[];
  /** Under a real share, the real samples every model n ≥ 2 trains on (see LoopConfig.realShare). */
  realKept?: Part<D>;
}

/** What accumulate-subsample needs to cut the accumulated pool down: sizes, selection, target size, randomness. */
export interface Subsampler<D> {
  size(data: D): number;
  select(data: D, indices: Int32Array): D;
  /** The size to subsample to (the first iteration's training set). */
  to: number;
  rng: Rng;
}

/**
 * The parts model n trains on: the single place where strategies differ in what data they use,
 * accumulate-subsample's subsampling included (given a `subsample`; without one, the parts before it).
 * The unit tests pin every case down.
 */
export function trainingParts<D>(strategy: Strategy, n: number, pool: Pool<D>, subsample?: Subsampler<D>): Part<D>[] {
  if (n === 1) return [pool.real[0]];
  if (strategy === "accumulate-subsample" && subsample) return subsampleParts(subsample, trainingParts(strategy, n, pool), subsample.to, subsample.rng);
  const newestSynthetic = pool.synthetic[n - 2];
  if (!newestSynthetic) throw new Error(`no synthetic data from model ${n - 1} for iteration ${n}`);
  const fresh = pool.real.slice(1).filter((p) => p.generation === n);
  switch (strategy) {
    case "replace":
      return pool.realKept ? [pool.realKept, newestSynthetic, ...fresh] : [newestSynthetic, ...fresh];
    case "replace-multiple":
    case "replace-matched-compute":
      return [newestSynthetic, ...fresh];
    case "augment":
      return [pool.real[0], newestSynthetic, ...fresh];
    case "accumulate":
    case "accumulate-subsample":
      return [...pool.real.filter((p) => p.generation <= n), ...pool.synthetic.slice(0, n - 1)];
  }
}

/** `size` samples drawn uniformly without replacement from the union of the parts; provenance is kept. */
export function subsampleParts<D>(modality: Pick<Subsampler<D>, "size" | "select">, parts: readonly Part<D>[], size: number, rng: Rng): Part<D>[] {
  const sizes = parts.map((p) => modality.size(p.data));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total <= size) return [...parts];
  const chosen = rng.choose(total, size);
  const out: Part<D>[] = [];
  let offset = 0;
  let c = 0;
  parts.forEach((part, i) => {
    const local: number[] = [];
    while (c < chosen.length && chosen[c] < offset + sizes[i]) local.push(chosen[c++] - offset);
    offset += sizes[i];
    if (local.length > 0) out.push({ ...part, data: modality.select(part.data, Int32Array.from(local)) });
  });
  return out;
}

/**
 * How many times its usual training work model n gets: for replace-matched-compute, accumulate's
 * training-set size at iteration n over its own (so fixed-epoch training takes accumulate's steps);
 * 1 for every other strategy. A closed-form fit (§2's OLS, §5's Gaussian) has no steps to scale.
 */
export function trainingScale<D>(strategy: Strategy, n: number, pool: Pool<D>, size: (data: D) => number): number {
  if (strategy !== "replace-matched-compute" || n === 1) return 1;
  const total = (parts: Part<D>[]) => parts.reduce((s, p) => s + size(p.data), 0);
  return total(trainingParts("accumulate", n, pool)) / total(trainingParts(strategy, n, pool));
}
