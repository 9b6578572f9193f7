import type { Strategy } from "../collapse/strategies";
import { InterruptedError } from "../interrupt";
import { type LinearExperimentConfig, type LinearExperimentResult, type LinearRunOptions, checkLinearConfig, runLinearExperiment } from "../linear/montecarlo";
import type { LinearSetting } from "../linear/problem";
import { type CurationVariant, type LinearFigureOptions, type ProportionPoint, linearErrorFigure, linearProportionFigure, proportionPoints } from "../linear/figures";
import type { NotebookDisplay } from "../plots/notebook";
import type { Figure } from "../plots/plotly";
import type { Profile } from "../collapse/profiles";
import { CURATION_KEEP } from "./experiment";
import type { XAxis } from "../plots/metricFigures";

/** Section 2 (linear regression): the settings grid and figure layouts at each profile. */

/** The kit's paper-profile grid (ours: the paper does not list its values): d ∈ {1,3,10,32,100}, T ∈ {10,32,100,316,1000} with T ≥ d+2, σ² ∈ {0.1,1,10}. */
export function paperGrid(): LinearSetting[] {
  const out: LinearSetting[] = [];
  for (const sigma2 of [0.1, 1, 10]) {
    for (const d of [1, 3, 10, 32, 100]) {
      for (const T of [10, 32, 100, 316, 1000]) if (T >= d + 2) out.push({ d, T, sigma2 });
    }
  }
  return out;
}

const SECTION2_STRATEGIES: Strategy[] = ["replace", "accumulate", "accumulate-subsample", "replace-multiple"];

/** One experiment feeds Figures 2 and 9: Figure 2 shows its first iterations, Figure 9 all of them. */
export function section2Config(profile: Profile): LinearExperimentConfig {
  switch (profile) {
    case "smoke":
      return checkLinearConfig({
        settings: [
          { d: 3, T: 20, sigma2: 1 },
          { d: 3, T: 20, sigma2: 0.1 },
        ],
        strategies: SECTION2_STRATEGIES,
        iterations: 12,
        seeds: 20,
      });
    case "quick":
      return checkLinearConfig({
        settings: [0.1, 1, 10].flatMap((sigma2) => [
          { d: 10, T: 32, sigma2 },
          { d: 10, T: 100, sigma2 },
          { d: 3, T: 32, sigma2 },
          { d: 3, T: 100, sigma2 },
        ]),
        strategies: SECTION2_STRATEGIES,
        iterations: 50,
        seeds: 100,
      });
    case "medium":
      // Ours: the paper profile's grid without its T=1000 column (the cells whose time dominates the
      // paper profile's), at its 100 iterations and 100 repeats.
      return checkLinearConfig({ settings: paperGrid().filter((s) => s.T < 1000), strategies: SECTION2_STRATEGIES, iterations: 100, seeds: 100 });
    case "paper":
      return checkLinearConfig({ settings: paperGrid(), strategies: SECTION2_STRATEGIES, iterations: 100, seeds: 100 });
  }
}

/** Figure 2 shows iterations 1..10 on linear axes, as in the paper. */
export const FIGURE2_ITERATIONS = 10;

/** True where the grid is too large for one figure (the paper's: 19 (d, T) pairs per σ²). */
function splitBySigma2(result: LinearExperimentResult): boolean {
  return new Set(result.config.settings.map((s) => s.d)).size > 2;
}

/**
 * The σ² values Figures 2 and 9 are drawn for, one figure each, on a large grid (at `paper`: every σ²
 * of the grid, one column per d, coloured by T); `[null]` where one figure shows every setting, one
 * column per σ².
 */
export function figure2Sigma2s(result: LinearExperimentResult): (number | null)[] {
  return splitBySigma2(result) ? [...new Set(result.config.settings.map((s) => s.sigma2))].sort((a, b) => a - b) : [null];
}

/** The figure's name for one σ² ("figure2" for σ² = 1 or one figure of all, "figure2-sigma2-0.1" else). */
export function figure2Name(base: "figure2" | "figure9", sigma2: number | null): string {
  return sigma2 === null || sigma2 === 1 ? base : `${base}-sigma2-${sigma2}`;
}

function facets(result: LinearExperimentResult, sigma2: number | null): Pick<LinearFigureOptions, "columns" | "color" | "where"> {
  if (!splitBySigma2(result)) return { columns: "sigma2", color: "dT" };
  const s = sigma2 ?? 1;
  return { columns: "d", color: "T", where: (c) => c.setting.sigma2 === s };
}

const sigmaNote = (result: LinearExperimentResult, sigma2: number | null) => (splitBySigma2(result) ? `, σ²=${sigma2 ?? 1}` : "");

export function figure2(result: LinearExperimentResult, sigma2: number | null = null, x: XAxis = "iteration"): Figure {
  return linearErrorFigure(result, {
    x,
    ...facets(result, sigma2),
    strategies: ["replace", "accumulate"],
    maxIteration: FIGURE2_ITERATIONS,
    title: `Figure 2${sigmaNote(result, sigma2)}: replacing data (top) vs accumulating data (bottom): simulation (solid, ±1 SE) and theory (dashed)`,
  });
}

export function figure9(result: LinearExperimentResult, sigma2: number | null = null, title?: string, x: XAxis = "iteration"): Figure {
  return linearErrorFigure(result, {
    x,
    ...facets(result, sigma2),
    strategies: ["replace", "accumulate"],
    logY: true,
    title: title ?? `Figure 9${sigmaNote(result, sigma2)}: the same on a log scale, ${result.config.iterations} iterations`,
  });
}

/**
 * runLinearExperiment in a notebook: a progress bar and a live Figure 9 of every cell so far, marked
 * "(running: k of N sequences)"; when the run ends the live view gives way to a one-line note (the
 * cells after draw the final figures), and on an interrupt it stays, marked "(interrupted …)".
 */
export async function runLinearExperimentLive(nb: NotebookDisplay, config: LinearExperimentConfig, opts: Pick<LinearRunOptions, "store" | "signal"> = {}): Promise<LinearExperimentResult> {
  const total = config.settings.length * config.strategies.length * config.seeds;
  const bar = nb.progress("sequences", total);
  const live = nb.live();
  let done = 0;
  let last: LinearExperimentResult | null = null;
  const titled = (state: string) => `Figure 9, all settings (${state}: ${done} of ${total} sequences)`;
  let result: LinearExperimentResult;
  try {
    result = await runLinearExperiment(config, {
      ...opts,
      onProgress: (p) => {
        const s = p.partial.setting;
        done = (p.cell - 1) * p.seeds + p.seedsDone;
        last = p.snapshot;
        bar.update(done, `${p.partial.strategy} · d=${s.d} T=${s.T} σ²=${s.sigma2}`);
        live.update(figure9(p.snapshot, null, titled("running")));
      },
    });
  } catch (e) {
    const why = e instanceof InterruptedError ? "interrupted" : "failed";
    bar.stop(why);
    if (last) live.stop(figure9(last, null, titled(why)));
    else live.clear(`Monte Carlo ${why} before its first sequences finished.`);
    throw e;
  }
  const cached = result.curves.filter((c) => c.cached).length;
  bar.finish(`${result.seconds.toFixed(1)} s (${cached} of ${result.curves.length} cells from the run store)`);
  live.clear(`Monte Carlo finished: ${total} sequences in ${result.seconds.toFixed(1)} s; the figures follow.`);
  return result;
}

/** Beyond the paper: the four strategies side by side (columns), log scale. */
export function strategiesFigure(result: LinearExperimentResult, x: XAxis = "iteration"): Figure {
  const f = facets(result, 1);
  return linearErrorFigure(result, {
    x,
    rows: f.columns === "d" ? "none" : "sigma2",
    columns: "strategy",
    color: f.color,
    where: f.where,
    logY: true,
    title: "Replace vs accumulate vs accumulate-subsample vs replace-multiple",
  });
}

/** Beyond the paper: divided by σ²d/(T−d−1), every setting falls on one curve per strategy. */
export function normalizedFigure(result: LinearExperimentResult): Figure {
  return linearErrorFigure(result, {
    rows: "none",
    columns: "strategy",
    color: "setting",
    normalize: true,
    logY: true,
    bands: false,
    height: 460,
    title: "Normalized test error: n (replace), Σ1/i² → π²/6 (accumulate), harmonic (replace-multiple)",
  });
}

export const SECTION2_FIGURES = { figure2, figure9, strategiesFigure, normalizedFigure } as const;

/** One variant of the curation experiment: its legend label and its config. */
export interface LinearCurationExperiment {
  label: string;
  config: LinearExperimentConfig;
}

/**
 * The noisy verifier's τ² (ours): about the one-fit error σ²d/(T−d−1) ≈ 0.11 of the quick setting, so the
 * verifier knows w* about as well as a model fit on the real data does.
 */
export const CURATION_VERIFIER_NOISE = 0.1;

/**
 * Beyond the paper: replace and accumulate, each without curation, with the oracle verifier and with
 * the noisy one keeping the best CURATION_KEEP of the drawn samples. Same worlds in every variant.
 */
export function linearCurationExperiment(profile: Profile): LinearCurationExperiment[] {
  const base = (() => {
    switch (profile) {
      case "smoke":
        return { settings: [{ d: 3, T: 20, sigma2: 1 }], iterations: 6, seeds: 10 };
      case "quick":
        return { settings: [{ d: 10, T: 100, sigma2: 1 }], iterations: 30, seeds: 100 };
      case "medium":
        return { settings: [{ d: 10, T: 100, sigma2: 1 }], iterations: 50, seeds: 200 };
      case "paper":
        return { settings: [{ d: 10, T: 100, sigma2: 1 }], iterations: 100, seeds: 500 };
    }
  })();
  const strategies: Strategy[] = ["replace", "accumulate"];
  return [
    { label: "no curation", config: checkLinearConfig({ ...base, strategies }) },
    { label: `oracle verifier, keep ${CURATION_KEEP}`, config: checkLinearConfig({ ...base, strategies, curation: { verifier: "oracle", keep: CURATION_KEEP } }) },
    {
      label: `noisy verifier (τ²=${CURATION_VERIFIER_NOISE}), keep ${CURATION_KEEP}`,
      config: checkLinearConfig({ ...base, strategies, curation: { verifier: "noisy", keep: CURATION_KEEP }, verifierNoise: CURATION_VERIFIER_NOISE }),
    },
  ];
}

/** Runs every variant of the curation experiment (each cached in the run store under its own config). */
export async function runLinearCuration(variants: readonly LinearCurationExperiment[], opts: LinearRunOptions = {}): Promise<CurationVariant[]> {
  const out: CurationVariant[] = [];
  for (const v of variants) out.push({ label: v.label, result: await runLinearExperiment(v.config, opts) });
  return out;
}

/** The real shares of the proportion experiment: 0, 0.1, ..., 1 (0 and 1 at smoke and 0.5 between). */
export function linearProportionShares(profile: Profile): number[] {
  return profile === "smoke" ? [0, 0.5, 1] : Array.from({ length: 11 }, (_, k) => k / 10);
}

/**
 * Beyond the paper: replace where every training set keeps a share p of real data, one config per p,
 * each over real set sizes T at d = 10, σ² = 1 (ours: T ∈ {16, 32, 128, 1024} from the nearly square
 * T = 16 to T ≫ d).
 */
export function linearProportionExperiment(profile: Profile): LinearExperimentConfig[] {
  const sizes = profile === "smoke" ? [16, 64] : [16, 32, 128, 1024];
  const { iterations, seeds } = { smoke: { iterations: 5, seeds: 10 }, quick: { iterations: 10, seeds: 100 }, medium: { iterations: 50, seeds: 200 }, paper: { iterations: 100, seeds: 500 } }[profile];
  return linearProportionShares(profile).map((realShare) =>
    checkLinearConfig({ settings: sizes.map((T) => ({ d: 10, T, sigma2: 1 })), strategies: ["replace"], iterations, seeds, realShare }),
  );
}

/** Runs every real share of the proportion experiment. */
export async function runLinearProportion(configs: readonly LinearExperimentConfig[], opts: LinearRunOptions = {}): Promise<LinearExperimentResult[]> {
  const out: LinearExperimentResult[] = [];
  for (const c of configs) out.push(await runLinearExperiment(c, opts));
  return out;
}

/** The proportion figure at the experiment's last iteration (or `iteration`). */
export function linearProportionStudyFigure(results: readonly LinearExperimentResult[], iteration?: number): { figure: Figure; points: ProportionPoint[] } {
  const points = proportionPoints(results, iteration);
  return { figure: linearProportionFigure(points), points };
}
