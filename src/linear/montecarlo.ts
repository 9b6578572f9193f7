import { interruptible, pacer } from "../interrupt";
import { runCollapse } from "../collapse/loop";
import { type CurationConfig, type LoopConfig, STRATEGIES, type Strategy, checkModifiers, keptRealSize, unknownVerifier } from "../collapse/strategies";
import { ConfigError, checkInt, checkKnownKeys, checkNumber, checkOneOf } from "../errors";
import { Rng, deriveSeed } from "../random";
import { columnMeanAndStdErr } from "../stats";
import type { RunStore } from "../store/runStore";
import { type CovarianceSpec, type LinearSetting, checkSetting, covarianceMatrix, createLinearProblem } from "./problem";
import { LINEAR_VERIFIERS, cyclingRows, linearModality } from "./modality";
import { realShareTheory, theoryCurve } from "./theory";

/** One §2 experiment: a grid of (d, T, σ²) settings × strategies, each repeated over `seeds` worlds. */
export interface LinearExperimentConfig {
  settings: LinearSetting[];
  strategies: Strategy[];
  /** Models fit in sequence. */
  iterations: number;
  /** Monte-Carlo repeats (independent X, w* and noise) per setting. */
  seeds: number;
  /** Base seed; every strategy sees the same worlds (common random numbers). */
  seed: number;
  /** Ridge penalty λ ≥ 0 (0 = OLS, the paper's setting). */
  ridge: number;
  covariance: CovarianceSpec;
  /** Synthetic rows added per iteration, as a multiple of T (1 = the paper's constant schedule). */
  syntheticScale: number;
  /** Fresh real rows added per iteration, as a multiple of T (0 = none). */
  freshRealScale: number;
  /** Fresh test samples for the empirical test MSE (0 = exact test error only). */
  testSamples: number;
  /** Every synthetic set curated by a verifier of the linear modality (oracle, noisy); see CurationConfig. */
  curation?: CurationConfig;
  /**
   * The proportion setting (replace only): every model n ≥ 2 trains on T labels, round(realShare·T) of
   * them the original real labels of rows 0..r−1, the rest the newest model's labels on rows r..T−1.
   */
  realShare?: number;
  /** τ² of the noisy verifier (ours): its weights are w* + δ with E‖δ‖² = τ², drawn once per world. */
  verifierNoise?: number;
}

export const LINEAR_DEFAULTS: Omit<LinearExperimentConfig, "settings"> = {
  strategies: ["replace", "accumulate"],
  iterations: 10,
  seeds: 100,
  seed: 0,
  ridge: 0,
  covariance: "isotropic",
  syntheticScale: 1,
  freshRealScale: 0,
  testSamples: 0,
};

const KEYS = ["settings", "strategies", "iterations", "seeds", "seed", "ridge", "covariance", "syntheticScale", "freshRealScale", "testSamples", "curation", "realShare", "verifierNoise"];

/** Fills defaults and rejects bad or contradictory values, naming the field, before any work starts. */
export function checkLinearConfig(partial: Partial<LinearExperimentConfig> & { settings: LinearSetting[] }): LinearExperimentConfig {
  if (typeof partial !== "object" || partial === null) throw new ConfigError("config", "expected an object");
  checkKnownKeys("", partial, KEYS);
  const c = { ...LINEAR_DEFAULTS, ...partial };
  if (!Array.isArray(c.settings) || c.settings.length === 0) throw new ConfigError("settings", "needs at least one {d, T, sigma2}");
  const settings = c.settings.map((s, i) => {
    if (typeof s !== "object" || s === null) throw new ConfigError(`settings[${i}]`, "expected {d, T, sigma2}");
    checkKnownKeys(`settings[${i}]`, s, ["d", "T", "sigma2"]);
    const checked = checkSetting(`settings[${i}]`, s);
    if (checked.T < checked.d) {
      throw new ConfigError(`settings[${i}].T`, `T=${checked.T} < d=${checked.d}: X would not have full column rank (the paper assumes T ≥ d)`);
    }
    return checked;
  });
  if (!Array.isArray(c.strategies) || c.strategies.length === 0) throw new ConfigError("strategies", `needs at least one of ${STRATEGIES.join(", ")}`);
  const strategies = c.strategies.map((s, i) => checkOneOf(`strategies[${i}]`, s, STRATEGIES));
  if (new Set(strategies).size !== strategies.length) throw new ConfigError("strategies", "lists a strategy twice");
  const config: LinearExperimentConfig = {
    settings,
    strategies,
    iterations: checkInt("iterations", c.iterations, { min: 1, max: 100000 }),
    seeds: checkInt("seeds", c.seeds, { min: 1 }),
    seed: checkInt("seed", c.seed, { min: 0, max: 2 ** 31 - 1 }),
    ridge: checkNumber("ridge", c.ridge, { min: 0 }),
    covariance: c.covariance,
    syntheticScale: checkNumber("syntheticScale", c.syntheticScale, { exclusiveMin: 0 }),
    freshRealScale: checkNumber("freshRealScale", c.freshRealScale, { min: 0 }),
    testSamples: checkInt("testSamples", c.testSamples, { min: 0 }),
    // The modifiers appear only when given, so the configs (and run-store keys) of plain runs stay as they were.
    ...checkLinearModifiers(c, strategies),
  };
  for (const s of settings) {
    covarianceMatrix(config.covariance, s.d);
    if (Math.round(config.syntheticScale * s.T) < 1) throw new ConfigError("syntheticScale", `gives no synthetic rows for T=${s.T}`);
  }
  return config;
}

/** Curation, a real share and the noisy verifier's τ², checked against each other and the strategies. */
function checkLinearModifiers(c: Partial<LinearExperimentConfig>, strategies: readonly Strategy[]): Pick<LinearExperimentConfig, "curation" | "realShare" | "verifierNoise"> {
  for (const strategy of strategies) checkModifiers(c, strategy);
  const out: Pick<LinearExperimentConfig, "curation" | "realShare" | "verifierNoise"> = {};
  if (c.curation !== undefined) {
    if (!(LINEAR_VERIFIERS as readonly string[]).includes(c.curation.verifier)) throw unknownVerifier(c.curation.verifier, LINEAR_VERIFIERS);
    out.curation = c.curation;
  }
  if (c.verifierNoise !== undefined) {
    if (c.curation?.verifier !== "noisy") throw new ConfigError("verifierNoise", "is the noisy verifier's τ²; it applies only with curation by the noisy verifier");
    out.verifierNoise = checkNumber("verifierNoise", c.verifierNoise, { min: 0 });
  } else if (c.curation?.verifier === "noisy") {
    throw new ConfigError("verifierNoise", "the noisy verifier needs its τ² (E‖w_v − w*‖²), e.g. 0.1");
  }
  if (c.realShare !== undefined) {
    out.realShare = c.realShare;
    if (c.syntheticScale !== undefined && c.syntheticScale !== 1) throw new ConfigError("realShare", "sets the synthetic sets' size itself (the rest of T); leave syntheticScale at 1");
  }
  return out;
}

/** Monte-Carlo summary of one (setting, strategy) cell. */
export interface LinearCurve {
  setting: LinearSetting;
  strategy: Strategy;
  /** 1..iterations */
  iteration: number[];
  meanTestError: number[];
  stdErr: number[];
  /**
   * Closed-form expectation, or null where none exists (see theoryCurve; curation has none). Under a
   * real share: the expectation over the label noise given each world's design, averaged over the worlds.
   */
  theory: number[] | null;
  meanTestMSE?: number[];
  /** Test error of every repeat: perSeed[s][n-1]. */
  perSeed: number[][];
  /** True when the cell was read back from the run store rather than computed. */
  cached: boolean;
}

export interface LinearExperimentResult {
  config: LinearExperimentConfig;
  curves: LinearCurve[];
  seconds: number;
}

export interface LinearProgress {
  cell: number;
  cells: number;
  seedsDone: number;
  seeds: number;
  /** The cell's curve over the repeats finished so far. */
  partial: LinearCurve;
  /** Every finished cell plus the partial one: draw it for a live figure. */
  snapshot: LinearExperimentResult;
}

export interface LinearRunOptions {
  /** Caches each finished cell and resumes an interrupted one; null runs in memory only. */
  store?: RunStore | null;
  onProgress?: (p: LinearProgress) => void;
  /**
   * Stops the experiment with an InterruptedError (Kernel > Interrupt does too): the repeats of the
   * cell in progress that finished are kept, so the same call resumes.
   */
  signal?: AbortSignal;
}

interface SeedRecord {
  seed: number;
  testError: number[];
  testMSE?: number[];
  /** Under a real share: E[test error | this world's X] per iteration (see realShareTheory). */
  theory?: number[];
}

/** Runs every (setting, strategy) cell through the shared collapse loop, one sequence per repeat. */
export async function runLinearExperiment(
  partial: Partial<LinearExperimentConfig> & { settings: LinearSetting[] },
  options: LinearRunOptions = {},
): Promise<LinearExperimentResult> {
  const config = checkLinearConfig(partial);
  return interruptible(options.signal, (signal) => linearExperiment(config, options, signal));
}

async function linearExperiment(config: LinearExperimentConfig, options: LinearRunOptions, signal: AbortSignal): Promise<LinearExperimentResult> {
  // One repeat takes about a millisecond and awaits only settled promises: without a real yield now
  // and then, neither the notebook's progress nor an interrupt would get a turn until the end.
  const pace = pacer(signal);
  const started = performance.now();
  const curves: LinearCurve[] = [];
  const cells = config.settings.flatMap((setting) => config.strategies.map((strategy) => ({ setting, strategy })));
  for (const [cellIndex, { setting, strategy }] of cells.entries()) {
    const { settings: _s, strategies: _st, ...shared } = config;
    const run = options.store?.open("linear", { ...shared, setting, strategy });
    try {
      const records: SeedRecord[] = run ? run.records<SeedRecord>() : [];
      const cached = run?.done ?? false;
      const progress = () => {
        if (!options.onProgress || records.length === 0) return;
        const partial = summarize(config, setting, strategy, records, cached);
        const snapshot = { config, curves: [...curves, partial], seconds: (performance.now() - started) / 1000 };
        options.onProgress({ cell: cellIndex + 1, cells: cells.length, seedsDone: records.length, seeds: config.seeds, partial, snapshot });
      };
      let lastProgress = performance.now();
      for (let s = records.length; s < config.seeds; s++) {
        await pace();
        const record = await runOneSequence(config, setting, strategy, s);
        run?.append(record);
        records.push(record);
        // Every 10 repeats, and at least every second on a slow cell.
        if (s % 10 === 9 || s === config.seeds - 1 || performance.now() - lastProgress > 1000) {
          progress();
          lastProgress = performance.now();
        }
      }
      const curve = summarize(config, setting, strategy, records, cached);
      if (run && !run.done) run.finish({ meanTestError: curve.meanTestError, stdErr: curve.stdErr, theory: curve.theory });
      if (cached) progress();
      curves.push(curve);
    } finally {
      run?.close();
    }
  }
  return { config, curves, seconds: (performance.now() - started) / 1000 };
}

/** The seed of repeat s of a setting: shared by all strategies, so they are compared on the same worlds. */
export function repeatSeed(config: LinearExperimentConfig, setting: LinearSetting, s: number): number {
  return deriveSeed(config.seed, "linear", setting.d, setting.T, setting.sigma2, s);
}

async function runOneSequence(config: LinearExperimentConfig, setting: LinearSetting, strategy: Strategy, s: number): Promise<SeedRecord> {
  const seed = repeatSeed(config, setting, s);
  const problem = createLinearProblem({ ...setting, ridge: config.ridge, covariance: config.covariance, testSamples: config.testSamples }, Rng.derive(seed, "problem"));
  const loop = loopConfig(config, setting, strategy);
  const kept = keptRealSize(loop);
  const modality = linearModality(problem, {
    // Under a real share the synthetic labels fill the rows the kept real ones leave (see LinearModalityOptions).
    ...(kept !== null ? { syntheticStartRow: kept % setting.T } : {}),
    ...(config.verifierNoise !== undefined ? { noisyVerifier: { tau2: config.verifierNoise, rng: Rng.derive(seed, "verifier") } } : {}),
  });
  const { records } = await runCollapse({ modality, seed, loop });
  const out: SeedRecord = { seed: s, testError: records.map((r) => r.metrics.testError) };
  if (config.testSamples > 0) out.testMSE = records.map((r) => r.metrics.testMSE);
  if (kept !== null && config.curation === undefined && config.ridge === 0 && config.freshRealScale === 0) {
    const theory = realShareTheory(problem, { realRows: cyclingRows(setting.T, kept), syntheticRows: cyclingRows(setting.T, setting.T - kept, kept % setting.T) }, config.iterations);
    if (theory) out.theory = theory;
  }
  return out;
}

/** The collapse loop's config for one sequence of a cell. */
export function loopConfig(config: LinearExperimentConfig, setting: LinearSetting, strategy: Strategy): LoopConfig {
  return {
    strategy,
    iterations: config.iterations,
    realSize: setting.T,
    // A real share sets the synthetic sets' size itself (T − r).
    ...(config.realShare === undefined ? { syntheticSizes: Math.round(config.syntheticScale * setting.T) } : { realShare: config.realShare }),
    freshRealSize: Math.round(config.freshRealScale * setting.T),
    ...(config.curation !== undefined ? { curation: config.curation } : {}),
  };
}

function summarize(config: LinearExperimentConfig, setting: LinearSetting, strategy: Strategy, records: SeedRecord[], cached: boolean): LinearCurve {
  const perSeed = records.map((r) => r.testError);
  const { mean, stdErr } = columnMeanAndStdErr(perSeed);
  const curve: LinearCurve = {
    setting,
    strategy,
    iteration: Array.from({ length: config.iterations }, (_, i) => i + 1),
    meanTestError: mean,
    stdErr,
    theory: theoryFor(config, setting, strategy, records),
    perSeed,
    cached,
  };
  if (config.testSamples > 0) curve.meanTestMSE = columnMeanAndStdErr(records.map((r) => r.testMSE ?? [])).mean;
  return curve;
}

/**
 * The theory curve of a cell: none under curation (see theory.ts); under a real share the mean over the
 * worlds of the exact expectation given each world's design (none where a world has none); else theoryCurve.
 */
function theoryFor(config: LinearExperimentConfig, setting: LinearSetting, strategy: Strategy, records: SeedRecord[]): number[] | null {
  if (config.curation !== undefined) return null;
  if (config.realShare !== undefined) {
    if (records.length === 0 || records.some((r) => r.theory === undefined)) return null;
    return columnMeanAndStdErr(records.map((r) => r.theory!)).mean;
  }
  return theoryCurve(strategy, { ...setting, iterations: config.iterations, syntheticScale: config.syntheticScale, freshRealScale: config.freshRealScale, ridge: config.ridge });
}

/** A compact, per-iteration view of the results (what `collapse linear --json` prints). */
export function linearResultJson(result: LinearExperimentResult): unknown {
  return {
    config: result.config,
    seconds: result.seconds,
    curves: result.curves.map((c) => ({
      setting: c.setting,
      strategy: c.strategy,
      iterations: c.iteration.map((n, i) => ({
        iteration: n,
        meanTestError: c.meanTestError[i],
        stdErr: c.stdErr[i],
        theory: c.theory ? c.theory[i] : null,
        ...(c.meanTestMSE ? { meanTestMSE: c.meanTestMSE[i] } : {}),
      })),
    })),
  };
}
