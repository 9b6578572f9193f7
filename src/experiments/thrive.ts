import type { Profile } from "../collapse/profiles";
import type { Strategy } from "../collapse/strategies";
import { ConfigError, checkInt } from "../errors";
import { runGaussianSequence } from "../gaussian/spec";
import { type LinearExperimentConfig, type LinearExperimentResult, checkLinearConfig, runLinearExperiment } from "../linear/montecarlo";
import { STRATEGY_COLORS, logAxisTicks, panelsLayout } from "../plots/metricFigures";
import type { Figure } from "../plots/plotly";
import type { Progress } from "../progress";
import { columnMeanAndStdErr } from "../stats";
import type { RunStore } from "../store/runStore";
import type { Experiment } from "./registry";

/**
 * The follow-up paper's settings as checks: Kazdan, Schaeffer et al., "Collapse or Thrive? Perils and
 * Promises of Synthetic Data in a Self-Generating World" (ICML 2025, arXiv:2410.16713). Its §2 linear
 * regression (d = 10, σ² = 1, n = 32 and 1000 real samples) and its multivariate Gaussian (d = 10, fit
 * by maximum likelihood, n = 100, 316, 1000) under replace, accumulate-subsample and accumulate, 100
 * model-fitting iterations; our Monte Carlo beside the values the paper's figures show at iteration 100.
 */

export const THRIVE_STRATEGIES = ["replace", "accumulate-subsample", "accumulate"] as const satisfies readonly Strategy[];
export type ThriveStrategy = (typeof THRIVE_STRATEGIES)[number];

/** The iteration the published values are read at. */
export const PUBLISHED_ITERATION = 100;

export const PUBLISHED_SOURCE = "approximate readings of the figures of Kazdan, Schaeffer et al. 2025 (Collapse or Thrive?, arXiv:2410.16713)";

/**
 * A value read off a published figure by eye: `value` is the reading, `low`–`high` the range where the
 * figure does not pin it closer. Readings, not numbers the paper states: compare them loosely.
 */
export interface PublishedReading {
  value: number;
  low?: number;
  high?: number;
  note?: string;
}

/** Mean test error ‖ŵ − w*‖²_Σ at iteration 100, d = 10, σ² = 1, by n (the real set's size T). */
export const PUBLISHED_LINEAR: Readonly<Record<number, Readonly<Record<ThriveStrategy, PublishedReading>>>> = {
  32: { replace: { value: 50 }, "accumulate-subsample": { value: 2 }, accumulate: { value: 0.8 } },
  1000: { replace: { value: 0.95, low: 0.9, high: 1.0 }, "accumulate-subsample": { value: 0.03 }, accumulate: { value: 0.016 } },
};

/** det(Σ̂)/det(Σ₀) at iteration 100, d = 10, by n (samples per set). */
export const PUBLISHED_GAUSSIAN: Readonly<Record<number, Readonly<Record<ThriveStrategy, PublishedReading>>>> = {
  100: { replace: { value: 0, note: "→ 0" }, "accumulate-subsample": { value: 0.2 }, accumulate: { value: 0.4 } },
  316: { replace: { value: 0, note: "→ 0" }, "accumulate-subsample": { value: 0.6 }, accumulate: { value: 0.76 } },
  1000: { replace: { value: 0, note: "→ 0 by about iteration 75" }, "accumulate-subsample": { value: 0.87 }, accumulate: { value: 0.9 } },
};

/** The Gaussian half: independent sequences per (n, strategy), seeds seed..seed+seeds−1, shared by the strategies. */
export interface ThriveGaussianConfig {
  dim: number;
  samples: number[];
  strategies: Strategy[];
  iterations: number;
  seeds: number;
  seed: number;
}

export interface ThriveConfig {
  linear: LinearExperimentConfig;
  gaussian: ThriveGaussianConfig;
}

/**
 * The follow-up's settings at every profile (100 iterations throughout: the published values are at
 * iteration 100); profiles differ in repeats only, which are ours (the paper's figures do not say how
 * many it averaged). smoke: a few, seconds in all; quick: about a minute and a half on one core (the
 * Gaussian's accumulate at n = 1000, whose fits grow with the pool, is most of it); medium and paper: 100.
 */
export function thriveConfig(profile: Profile): ThriveConfig {
  const repeats = { smoke: { linear: 4, gaussian: 1 }, quick: { linear: 100, gaussian: 20 }, medium: { linear: 100, gaussian: 100 }, paper: { linear: 100, gaussian: 100 } }[profile];
  return {
    linear: checkLinearConfig({
      settings: Object.keys(PUBLISHED_LINEAR).map((T) => ({ d: 10, T: Number(T), sigma2: 1 })),
      strategies: [...THRIVE_STRATEGIES],
      iterations: PUBLISHED_ITERATION,
      seeds: repeats.linear,
      seed: 0,
    }),
    gaussian: checkThriveGaussianConfig({
      dim: 10,
      samples: Object.keys(PUBLISHED_GAUSSIAN).map(Number),
      strategies: [...THRIVE_STRATEGIES],
      iterations: PUBLISHED_ITERATION,
      seeds: repeats.gaussian,
      seed: 0,
    }),
  };
}

export function checkThriveGaussianConfig(c: ThriveGaussianConfig): ThriveGaussianConfig {
  checkInt("gaussian.dim", c.dim, { min: 1, max: 64 });
  if (!Array.isArray(c.samples) || c.samples.length === 0) throw new ConfigError("gaussian.samples", "needs at least one set size");
  c.samples.forEach((n, i) => checkInt(`gaussian.samples[${i}]`, n, { min: 2 }));
  if (!Array.isArray(c.strategies) || c.strategies.length === 0) throw new ConfigError("gaussian.strategies", "needs at least one strategy");
  checkInt("gaussian.iterations", c.iterations, { min: 1 });
  checkInt("gaussian.seeds", c.seeds, { min: 1 });
  checkInt("gaussian.seed", c.seed, { min: 0 });
  return c;
}

/** det(Σ̂)/det(Σ₀) of one (n, strategy) cell over its repeats. */
export interface DetRatioCurve {
  samples: number;
  strategy: Strategy;
  iteration: number[];
  meanDetRatio: number[];
  stdErr: number[];
  meanLogDetRatio: number[];
  /** det ratio of every repeat: perSeed[s][t−1]. */
  perSeed: number[][];
}

export interface ThriveGaussianResult {
  config: ThriveGaussianConfig;
  curves: DetRatioCurve[];
  seconds: number;
}

/**
 * Every (n, strategy) cell's sequences, in memory: a sequence is closed-form fits, milliseconds to a
 * second, and keeping each pool in the run store would cost more than fitting it again.
 */
export async function runThriveGaussian(config: ThriveGaussianConfig, progress?: Progress): Promise<ThriveGaussianResult> {
  checkThriveGaussianConfig(config);
  const started = performance.now();
  const curves: DetRatioCurve[] = [];
  let done = 0;
  for (const samples of config.samples) {
    for (const strategy of config.strategies) {
      const det: number[][] = [];
      const logDet: number[][] = [];
      for (let k = 0; k < config.seeds; k++) {
        const { records } = await runGaussianSequence({ dim: config.dim, samples, strategy, iterations: config.iterations, seed: config.seed + k, referenceSize: 0 });
        det.push(records.map((r) => r.metrics.detRatio));
        logDet.push(records.map((r) => r.metrics.logDetRatio));
        progress?.update(++done, `${strategy} · n=${samples}`);
      }
      const { mean, stdErr } = columnMeanAndStdErr(det);
      curves.push({
        samples,
        strategy,
        iteration: Array.from({ length: config.iterations }, (_, i) => i + 1),
        meanDetRatio: mean,
        stdErr,
        meanLogDetRatio: columnMeanAndStdErr(logDet).mean,
        perSeed: det,
      });
    }
  }
  return { config, curves, seconds: (performance.now() - started) / 1000 };
}

/** One panel's curves: a strategy's mean (±1 SE band), its closed form where one exists, and the published reading. */
interface PanelCurve {
  strategy: Strategy;
  iteration: number[];
  mean: number[];
  se: number[];
  seeds: number;
  theory: number[] | null;
  published: PublishedReading | undefined;
}

const PUBLISHED_NAME = "Kazdan et al. 2025 (approximate reading)";

/**
 * Panels of curves against iteration, coloured by strategy: Monte-Carlo means solid with ±1 SE bands,
 * closed forms dashed, the published readings as open diamonds at PUBLISHED_ITERATION (with a bar over
 * a read range). On a log axis a reading of 0 has no place and is left out of the figure (the JSON keeps it).
 */
function thriveFigure(panels: { label: string; curves: PanelCurve[] }[], o: { title: string; yTitle: string; logY: boolean }): Figure {
  const data: Record<string, unknown>[] = [];
  const legend = new Set<string>();
  // True the first time a legend entry is asked for: each strategy, the closed form and the readings appear once.
  const once = (name: string) => {
    if (legend.has(name)) return false;
    legend.add(name);
    return true;
  };
  const ranges: [number, number][] = [];
  let lastIteration = 1;
  panels.forEach((panel, k) => {
    const axes = { xaxis: k === 0 ? "x" : `x${k + 1}`, yaxis: k === 0 ? "y" : `y${k + 1}` };
    const values: number[] = [];
    for (const c of panel.curves) {
      const color = STRATEGY_COLORS[c.strategy];
      lastIteration = Math.max(lastIteration, ...c.iteration);
      values.push(...c.mean, ...(c.theory ?? []), ...(c.published ? [c.published.value] : []));
      if (c.seeds > 1) {
        // On a log axis the band's lower edge stays above 0 (a mean within one SE of 0 would drop off the axis).
        const lower = c.mean.map((m, i) => (o.logY ? Math.max(m - c.se[i], m / 10) : m - c.se[i]));
        data.push({
          type: "scatter",
          mode: "lines",
          name: `${c.strategy} ±1 SE`,
          legendgroup: c.strategy,
          showlegend: false,
          x: [...c.iteration, ...[...c.iteration].reverse()],
          y: [...c.mean.map((m, i) => m + c.se[i]), ...lower.reverse()],
          fill: "toself",
          fillcolor: rgba(color, 0.18),
          line: { width: 0, color },
          hoverinfo: "skip",
          ...axes,
        });
      }
      data.push({
        type: "scatter",
        mode: "lines",
        name: c.strategy,
        legendgroup: c.strategy,
        showlegend: once(c.strategy),
        x: c.iteration,
        y: c.mean,
        customdata: c.se,
        line: { color, width: 2 },
        hovertemplate: `${panel.label}, ${c.strategy}, mean of ${c.seeds}<br>t=%{x}: %{y:.4g} ± %{customdata:.2g}<extra></extra>`,
        ...axes,
      });
      if (c.theory) {
        data.push({
          type: "scatter",
          mode: "lines",
          name: "closed form (dashed)",
          legendgroup: "closed form",
          showlegend: once("closed form"),
          x: c.iteration,
          y: c.theory,
          line: { color, width: 1.5, dash: "dash" },
          hovertemplate: `${panel.label}, ${c.strategy}, closed form<br>t=%{x}: %{y:.4g}<extra></extra>`,
          ...axes,
        });
      }
      const p = c.published;
      if (p && !(o.logY && p.value <= 0)) {
        const range = p.low !== undefined && p.high !== undefined ? { error_y: { type: "data", symmetric: false, array: [p.high - p.value], arrayminus: [p.value - p.low], color, thickness: 2, width: 6 } } : {};
        data.push({
          type: "scatter",
          mode: "markers",
          name: PUBLISHED_NAME,
          legendgroup: "published",
          showlegend: once("published"),
          x: [PUBLISHED_ITERATION],
          y: [p.value],
          marker: { symbol: "diamond-open", size: 13, color, line: { width: 2.5, color } },
          // A reading of 0 sits on the axis: drawn whole rather than cut in half.
          cliponaxis: false,
          ...range,
          hovertemplate: `${panel.label}, ${c.strategy}: ${PUBLISHED_NAME}<br>≈ ${formatReading(p)}<extra></extra>`,
          ...axes,
        });
      }
    }
    const positive = values.filter((v) => v > 0);
    ranges.push([Math.min(...positive), Math.max(...positive)]);
  });
  const layout = panelsLayout(
    panels.map((p) => p.label),
    o.title,
    (k, first) => ({ ...(o.logY ? logAxisTicks(...ranges[k]) : { rangemode: "tozero" }), ...(first ? { title: { text: o.yTitle } } : {}) }),
    lastIteration,
  );
  return { data, layout };
}

/** "mean of 20 sequences ±1 SE", or "one sequence" (no band to speak of). */
function meanOf(count: number, unit: string): string {
  return count > 1 ? `mean of ${count} ${unit}s ±1 SE` : `one ${unit}`;
}

function formatReading(p: PublishedReading): string {
  if (p.note) return p.note;
  return p.low !== undefined && p.high !== undefined ? `${p.low}–${p.high}` : String(p.value);
}

function rgba(hex: string, alpha: number): string {
  const v = parseInt(hex.slice(1), 16);
  return `rgba(${(v >> 16) & 255},${(v >> 8) & 255},${v & 255},${alpha})`;
}

/** §2 of the follow-up: mean test error against iteration on a log axis, one panel per n. */
export function thriveLinearFigure(result: LinearExperimentResult): Figure {
  const panels = result.config.settings.map((s) => ({
    label: `n = ${s.T} (d = ${s.d}, σ² = ${s.sigma2})`,
    curves: result.curves
      .filter((c) => c.setting.d === s.d && c.setting.T === s.T && c.setting.sigma2 === s.sigma2)
      .map((c) => ({ strategy: c.strategy, iteration: c.iteration, mean: c.meanTestError, se: c.stdErr, seeds: c.perSeed.length, theory: c.theory, published: publishedLinear(c.setting, c.strategy) })),
  }));
  return thriveFigure(panels, { title: `Linear regression: test error, ${meanOf(result.config.seeds, "repeat")}`, yTitle: "test error ‖ŵ−w*‖²<sub>Σ</sub>", logY: true });
}

/** The follow-up's Gaussian: det(Σ̂)/det(Σ₀) against iteration, one panel per n; a linear axis, as the readings lie in [0, 1]. */
export function thriveGaussianFigure(result: ThriveGaussianResult): Figure {
  const panels = result.config.samples.map((n) => ({
    label: `n = ${n} (d = ${result.config.dim})`,
    curves: result.curves
      .filter((c) => c.samples === n)
      .map((c) => ({ strategy: c.strategy, iteration: c.iteration, mean: c.meanDetRatio, se: c.stdErr, seeds: c.perSeed.length, theory: null, published: publishedGaussian(result.config.dim, n, c.strategy) })),
  }));
  return thriveFigure(panels, { title: `${result.config.dim}-D Gaussian, ML fits: det Σ̂ / det Σ₀, ${meanOf(result.config.seeds, "sequence")}`, yTitle: "det Σ̂ / det Σ₀", logY: false });
}

function publishedLinear(s: { d: number; T: number; sigma2: number }, strategy: Strategy): PublishedReading | undefined {
  return s.d === 10 && s.sigma2 === 1 ? PUBLISHED_LINEAR[s.T]?.[strategy as ThriveStrategy] : undefined;
}

function publishedGaussian(dim: number, samples: number, strategy: Strategy): PublishedReading | undefined {
  return dim === 10 ? PUBLISHED_GAUSSIAN[samples]?.[strategy as ThriveStrategy] : undefined;
}

/** The iteration-100 values of every cell beside the published readings (what `results/thrive.json` holds). */
export function thriveJson(linear: LinearExperimentResult, gaussian: ThriveGaussianResult): unknown {
  const at = PUBLISHED_ITERATION - 1;
  const round = (v: number) => Number(v.toPrecision(4));
  return {
    source: PUBLISHED_SOURCE,
    iteration: PUBLISHED_ITERATION,
    linear: {
      config: linear.config,
      seconds: linear.seconds,
      cells: linear.curves.map((c) => {
        const published = publishedLinear(c.setting, c.strategy) ?? null;
        return {
          n: c.setting.T,
          d: c.setting.d,
          sigma2: c.setting.sigma2,
          strategy: c.strategy,
          repeats: c.perSeed.length,
          meanTestError: round(c.meanTestError[at]),
          stdErr: round(c.stdErr[at]),
          closedForm: c.theory ? round(c.theory[at]) : null,
          published,
          oursOverPublished: published && published.value > 0 ? round(c.meanTestError[at] / published.value) : null,
        };
      }),
    },
    gaussian: {
      config: gaussian.config,
      seconds: gaussian.seconds,
      cells: gaussian.curves.map((c) => {
        const published = publishedGaussian(gaussian.config.dim, c.samples, c.strategy) ?? null;
        return {
          n: c.samples,
          dim: gaussian.config.dim,
          strategy: c.strategy,
          sequences: c.perSeed.length,
          meanDetRatio: Number(c.meanDetRatio[at].toPrecision(4)),
          stdErr: Number(c.stdErr[at].toPrecision(3)),
          meanLogDetRatio: round(c.meanLogDetRatio[at]),
          published,
          oursMinusPublished: published ? round(c.meanDetRatio[at] - published.value) : null,
        };
      }),
    },
  };
}

/** Runs both halves: the linear Monte Carlo through the run store (cells already there are read back), the Gaussian in memory. */
export async function runThrive(config: ThriveConfig, ctx: { store: RunStore | null; progress?: (label: string, total: number) => Progress }): Promise<{ linear: LinearExperimentResult; gaussian: ThriveGaussianResult }> {
  const lc = config.linear;
  const linearBar = ctx.progress?.("linear sequences", lc.settings.length * lc.strategies.length * lc.seeds);
  const linear = await runLinearExperiment(lc, { store: ctx.store, onProgress: (p) => linearBar?.update((p.cell - 1) * p.seeds + p.seedsDone) });
  linearBar?.finish(`${linear.seconds.toFixed(1)}s`);
  const gc = config.gaussian;
  const gaussianBar = ctx.progress?.("Gaussian sequences", gc.samples.length * gc.strategies.length * gc.seeds);
  const gaussian = await runThriveGaussian(gc, gaussianBar);
  gaussianBar?.finish(`${gaussian.seconds.toFixed(1)}s`);
  return { linear, gaussian };
}

export const THRIVE: Experiment = {
  description: "Kazdan et al. 2025 (Collapse or Thrive?): linear regression (d=10, n=32, 1000) and a 10-D Gaussian's det ratio (n=100, 316, 1000) under replace, accumulate-subsample and accumulate, 100 iterations, beside the paper's values read off its figures",
  async run(profile, ctx) {
    const { linear, gaussian } = await runThrive(thriveConfig(profile), ctx);
    const json = thriveJson(linear, gaussian);
    return {
      figures: { "thrive-linear": thriveLinearFigure(linear), "thrive-gaussian": thriveGaussianFigure(gaussian) },
      json,
      // Under results/: every *.json at the top of the output folder is a figure the exporter renders.
      files: { "results/thrive.json": JSON.stringify(json, null, 1) + "\n" },
    };
  },
};
