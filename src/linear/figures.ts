import type { Strategy } from "../collapse/strategies";
import { type LinearCurve, type LinearExperimentResult, loopConfig } from "./montecarlo";
import { plannedIterations } from "../collapse/plan";
import type { LinearSetting } from "./problem";
import { unitError } from "./theory";
import { type XAxis, logAxisTicks, withAlpha } from "../plots/metricFigures";
import type { Figure } from "../plots/plotly";
import { proportionFigure } from "../plots/studyFigures";

/** What a facet (row, column or colour) of a §2 figure splits the curves by. */
export type LinearFacet = "strategy" | "d" | "T" | "sigma2" | "dT" | "setting" | "none";

export interface LinearFigureOptions {
  rows?: LinearFacet;
  columns?: LinearFacet;
  color?: LinearFacet;
  /** Which strategies to draw, in this order (default: all in the result). */
  strategies?: readonly Strategy[];
  /** Keep only some settings. */
  where?: (c: LinearCurve) => boolean;
  /** Draw iterations 1..maxIteration only. */
  maxIteration?: number;
  /** x: model-fitting iteration (default) or the rows fit so far, repeats counted (one pass per closed-form fit). */
  x?: XAxis;
  logY?: boolean;
  logX?: boolean;
  /** Divide by σ²d/(T−d−1), the one-fit error: every setting then falls on the same theory curve. */
  normalize?: boolean;
  theory?: boolean;
  /** ±1 standard-error band around each Monte-Carlo mean. */
  bands?: boolean;
  title?: string;
  height?: number;
  width?: number;
}

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const SIGMA = "\u03c3\u00b2";

function facetValue(c: LinearCurve, f: LinearFacet): string {
  switch (f) {
    case "strategy":
      return c.strategy;
    case "d":
      return `d=${c.setting.d}`;
    case "T":
      return `T=${c.setting.T}`;
    case "sigma2":
      return `${SIGMA}=${c.setting.sigma2}`;
    case "dT":
      return `d=${c.setting.d}, T=${c.setting.T}`;
    case "setting":
      return settingLabel(c.setting);
    case "none":
      return "";
  }
}

function settingLabel(s: LinearSetting): string {
  return `d=${s.d}, T=${s.T}, ${SIGMA}=${s.sigma2}`;
}

function facetSortKey(c: LinearCurve, f: LinearFacet, strategies: readonly Strategy[]): number[] {
  switch (f) {
    case "strategy":
      return [strategies.indexOf(c.strategy)];
    case "d":
      return [c.setting.d];
    case "T":
      return [c.setting.T];
    case "sigma2":
      return [c.setting.sigma2];
    case "dT":
      return [c.setting.d, c.setting.T];
    case "setting":
      return [c.setting.d, c.setting.T, c.setting.sigma2];
    case "none":
      return [0];
  }
}

function orderedValues(curves: readonly LinearCurve[], f: LinearFacet, strategies: readonly Strategy[]): string[] {
  const seen = new Map<string, number[]>();
  for (const c of curves) seen.set(facetValue(c, f), facetSortKey(c, f, strategies));
  return [...seen.entries()]
    .sort(([, a], [, b]) => {
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
      return 0;
    })
    .map(([k]) => k);
}

/**
 * Test error against model-fitting iteration, faceted into a grid: Monte-Carlo mean (solid, with a
 * ±1 SE band) and the closed-form expectation (dashed, same colour).
 * Figure 2 is rows = strategy (replace over accumulate), columns = σ², colour = (d, T).
 */
export function linearErrorFigure(result: LinearExperimentResult, opts: LinearFigureOptions = {}): Figure {
  const rowsBy = opts.rows ?? "strategy";
  const colsBy = opts.columns ?? "sigma2";
  const colorBy = opts.color ?? "setting";
  const strategies = opts.strategies ?? result.config.strategies;
  const curves = result.curves.filter((c) => strategies.includes(c.strategy) && (opts.where ? opts.where(c) : true));
  if (curves.length === 0) throw new Error("linearErrorFigure: no curves match the requested strategies/settings");
  const rowVals = orderedValues(curves, rowsBy, strategies);
  const colVals = orderedValues(curves, colsBy, strategies);
  const colorVals = orderedValues(curves, colorBy, strategies);
  const maxIt = Math.min(opts.maxIteration ?? result.config.iterations, result.config.iterations);
  const showTheory = opts.theory ?? true;
  const showBands = opts.bands ?? true;
  const data: Record<string, unknown>[] = [];
  const legendShown = new Set<string>();
  const yRange = new Map<number, [number, number]>(); // of the means on each panel, for its log ticks
  let theoryLegendShown = false;

  for (const c of curves) {
    const r = rowVals.indexOf(facetValue(c, rowsBy));
    const col = colVals.indexOf(facetValue(c, colsBy));
    const axis = r * colVals.length + col + 1;
    const xa = axis === 1 ? "x" : `x${axis}`;
    const ya = axis === 1 ? "y" : `y${axis}`;
    const colorKey = facetValue(c, colorBy);
    const color = PALETTE[colorVals.indexOf(colorKey) % PALETTE.length];
    const scale = opts.normalize ? unitError(c.setting.d, c.setting.T, c.setting.sigma2) ?? NaN : 1;
    const x = opts.x === "compute" ? rowsFitSoFar(result, c).slice(0, maxIt) : c.iteration.slice(0, maxIt);
    const mean = c.meanTestError.slice(0, maxIt).map((v) => v / scale);
    const se = c.stdErr.slice(0, maxIt).map((v) => v / scale);
    const label = colorKey || c.strategy;
    if (showBands && c.perSeed.length > 1) {
      const floor = opts.logY ? Math.min(...mean.filter((v) => v > 0)) * 1e-3 : -Infinity;
      data.push({
        type: "scatter",
        x: [...x, ...x.slice().reverse()],
        y: [...mean.map((m, i) => m + se[i]), ...mean.map((m, i) => Math.max(m - se[i], floor)).reverse()],
        mode: "lines",
        fill: "toself",
        fillcolor: withAlpha(color, 0.18),
        line: { width: 0 },
        hoverinfo: "skip",
        showlegend: false,
        legendgroup: label,
        xaxis: xa,
        yaxis: ya,
      });
    }
    const [lo, hi] = yRange.get(axis) ?? [Infinity, -Infinity];
    const positive = mean.filter((v) => v > 0);
    yRange.set(axis, [Math.min(lo, ...positive), Math.max(hi, ...positive)]);
    data.push({
      type: "scatter",
      mode: x.length <= 30 ? "lines+markers" : "lines",
      name: label,
      legendgroup: label,
      showlegend: !legendShown.has(label),
      x,
      y: mean,
      line: { color, width: 2 },
      marker: { size: 5 },
      customdata: se,
      hovertemplate: `${c.strategy}, ${facetValue(c, "setting")}<br>n=%{x}: %{y:.4g} ± %{customdata:.2g}<extra></extra>`,
      xaxis: xa,
      yaxis: ya,
    });
    legendShown.add(label);
    if (showTheory && c.theory) {
      data.push({
        type: "scatter",
        mode: "lines",
        name: "theory (dashed)",
        legendgroup: "theory",
        showlegend: !theoryLegendShown,
        x,
        y: c.theory.slice(0, maxIt).map((v) => v / scale),
        line: { color, width: 1.5, dash: "dash" },
        hovertemplate: `theory, ${facetValue(c, "setting")}<br>n=%{x}: %{y:.4g}<extra></extra>`,
        xaxis: xa,
        yaxis: ya,
      });
      theoryLegendShown = true;
    }
  }

  const nRows = rowVals.length;
  const nCols = colVals.length;
  const layout: Record<string, unknown> = {
    title: { text: opts.title ?? "Test error vs model-fitting iteration" },
    grid: { rows: nRows, columns: nCols, pattern: "independent", roworder: "top to bottom" },
    height: opts.height ?? Math.max(360, 260 * nRows + 120),
    width: opts.width,
    hovermode: "closest",
    legend: { title: { text: colorBy === "none" ? "" : colorBy === "dT" ? "(d, T)" : colorBy } },
    margin: { t: 90, r: 40 },
    annotations: [] as Record<string, unknown>[],
  };
  const yTitle = opts.normalize ? "test error / (σ²d/(T−d−1))" : "test error ‖ŵ−w*‖²<sub>Σ</sub>";
  for (let r = 0; r < nRows; r++) {
    for (let col = 0; col < nCols; col++) {
      const axis = r * nCols + col + 1;
      const suffix = axis === 1 ? "" : String(axis);
      layout[`xaxis${suffix}`] = {
        type: opts.logX ? "log" : "linear",
        title: r === nRows - 1 ? { text: opts.x === "compute" ? "rows fit so far" : "model-fitting iteration n" } : undefined,
      };
      const [lo, hi] = yRange.get(axis) ?? [1, 1];
      layout[`yaxis${suffix}`] = {
        ...(opts.logY ? logAxisTicks(lo, hi) : { type: "linear", rangemode: "tozero" }),
        title: col === 0 ? { text: (rowVals[r] ? rowVals[r] + "<br>" : "") + yTitle } : undefined,
        exponentformat: "power",
      };
      if (r === 0 && colVals[col]) {
        (layout.annotations as Record<string, unknown>[]).push({
          text: `<b>${colVals[col]}</b>`,
          xref: `x${suffix} domain`,
          yref: `y${suffix} domain`,
          x: 0.5,
          y: 1.08,
          showarrow: false,
          xanchor: "center",
          yanchor: "bottom",
        });
      }
    }
  }
  return { data, layout };
}

/** A curve's cumulative training rows per iteration, from the loop's own size rules (the compute axis of a closed-form fit). */
function rowsFitSoFar(result: LinearExperimentResult, c: LinearCurve): number[] {
  let total = 0;
  return plannedIterations(loopConfig(result.config, c.setting, c.strategy)).map((p) => (total += p.trainSize * p.scale));
}

/** One row per (strategy, setting, chosen iteration): mean, SE, theory and the z-score between them. */
export function linearSummaryRows(result: LinearExperimentResult, iterations: readonly number[]): Record<string, string | number | null>[] {
  const rows: Record<string, string | number | null>[] = [];
  for (const c of result.curves) {
    for (const n of iterations) {
      if (n < 1 || n > result.config.iterations) continue;
      const mean = c.meanTestError[n - 1];
      const se = c.stdErr[n - 1];
      const theory = c.theory ? c.theory[n - 1] : null;
      rows.push({
        strategy: c.strategy,
        d: c.setting.d,
        T: c.setting.T,
        sigma2: c.setting.sigma2,
        iteration: n,
        mean: round(mean),
        stdErr: round(se),
        theory: theory === null ? null : round(theory),
        z: theory === null || se === 0 ? null : round((mean - theory) / se, 2),
      });
    }
  }
  return rows;
}

function round(v: number, digits = 4): number {
  return Number(v.toPrecision(digits));
}

/** One curated (or uncurated) experiment of the curation figure, under the name its legend shows. */
export interface CurationVariant {
  label: string;
  result: LinearExperimentResult;
}

/**
 * Curation figure: mean test error against iteration, one panel per strategy (and one row per setting),
 * one colour per variant (no curation, oracle, noisy verifier, ...), ±1 SE bands, log y. Theory (dashed)
 * only where a curve has one: the uncurated variants (curation has no closed form, see theory.ts).
 */
export function linearCurationFigure(variants: readonly CurationVariant[], opts: { strategies?: readonly Strategy[]; title?: string } = {}): Figure {
  if (variants.length === 0) throw new Error("linearCurationFigure: no variants");
  const strategies = opts.strategies ?? variants[0].result.config.strategies;
  const settings = orderedValues(variants.flatMap((v) => v.result.curves), "setting", strategies);
  const data: Record<string, unknown>[] = [];
  const yRange = new Map<number, [number, number]>();
  let theoryLegendShown = false;
  variants.forEach((v, k) => {
    const color = PALETTE[k % PALETTE.length];
    let legendShown = false;
    for (const c of v.result.curves) {
      const col = strategies.indexOf(c.strategy);
      if (col < 0) continue;
      const axis = settings.indexOf(facetValue(c, "setting")) * strategies.length + col + 1;
      const xa = axis === 1 ? "x" : `x${axis}`;
      const ya = axis === 1 ? "y" : `y${axis}`;
      const lower = c.meanTestError.map((m, i) => Math.max(m - c.stdErr[i], m * 1e-3));
      const upper = c.meanTestError.map((m, i) => m + c.stdErr[i]);
      data.push({ type: "scatter", x: [...c.iteration, ...c.iteration.slice().reverse()], y: [...upper, ...lower.slice().reverse()], mode: "lines", fill: "toself", fillcolor: withAlpha(color, 0.18), line: { width: 0 }, hoverinfo: "skip", showlegend: false, legendgroup: v.label, xaxis: xa, yaxis: ya });
      data.push({
        type: "scatter",
        mode: c.iteration.length <= 30 ? "lines+markers" : "lines",
        name: v.label,
        legendgroup: v.label,
        showlegend: !legendShown,
        x: c.iteration,
        y: c.meanTestError,
        customdata: c.stdErr,
        line: { color, width: 2 },
        marker: { size: 4 },
        hovertemplate: `${v.label}, ${c.strategy}<br>n=%{x}: %{y:.4g} ± %{customdata:.2g}<extra></extra>`,
        xaxis: xa,
        yaxis: ya,
      });
      legendShown = true;
      const [lo, hi] = yRange.get(axis) ?? [Infinity, -Infinity];
      yRange.set(axis, [Math.min(lo, ...lower), Math.max(hi, ...upper)]);
      if (c.theory) {
        data.push({ type: "scatter", mode: "lines", name: "theory (dashed)", legendgroup: "theory", showlegend: !theoryLegendShown, x: c.iteration, y: c.theory, line: { color, width: 1.5, dash: "dash" }, hovertemplate: `theory, ${c.strategy}<br>n=%{x}: %{y:.4g}<extra></extra>`, xaxis: xa, yaxis: ya });
        theoryLegendShown = true;
      }
    }
  });
  const layout: Record<string, unknown> = {
    title: { text: opts.title ?? "Curation by a verifier: test error (Monte Carlo ±1 SE; theory dashed where known)" },
    grid: { rows: settings.length, columns: strategies.length, pattern: "independent", roworder: "top to bottom" },
    height: Math.max(380, 300 * settings.length + 120),
    hovermode: "closest",
    legend: { title: { text: "curation" } },
    margin: { t: 90, r: 40 },
    annotations: [] as Record<string, unknown>[],
  };
  settings.forEach((setting, r) =>
    strategies.forEach((strategy, col) => {
      const axis = r * strategies.length + col + 1;
      const suffix = axis === 1 ? "" : String(axis);
      const [lo, hi] = yRange.get(axis) ?? [1, 1];
      layout[`xaxis${suffix}`] = { title: r === settings.length - 1 ? { text: "model-fitting iteration n" } : undefined };
      layout[`yaxis${suffix}`] = { ...logAxisTicks(lo, hi), title: col === 0 ? { text: `${setting}<br>test error ‖ŵ−w*‖²<sub>Σ</sub>` } : undefined, exponentformat: "power" };
      if (r === 0) (layout.annotations as Record<string, unknown>[]).push({ text: `<b>${strategy}</b>`, xref: `x${suffix} domain`, yref: `y${suffix} domain`, x: 0.5, y: 1.08, showarrow: false, xanchor: "center", yanchor: "bottom" });
    }),
  );
  return { data, layout };
}

/** The test error of one (setting, real share) cell at one iteration. */
export interface ProportionPoint {
  setting: LinearSetting;
  realShare: number;
  iteration: number;
  mean: number;
  stdErr: number;
  /** Exact over the label noise given each world's design, averaged over the worlds (null: none). */
  theory: number | null;
}

/** The points of the proportion figure: every replace curve of the results (one result per real share), at `iteration` (default the last). */
export function proportionPoints(results: readonly LinearExperimentResult[], iteration?: number): ProportionPoint[] {
  const points: ProportionPoint[] = [];
  for (const r of results) {
    if (r.config.realShare === undefined) throw new Error("proportionPoints: a result without a real share");
    const n = iteration ?? r.config.iterations;
    if (!(n >= 1 && n <= r.config.iterations)) throw new Error(`proportionPoints: iteration ${n} outside 1..${r.config.iterations}`);
    for (const c of r.curves) {
      points.push({ setting: c.setting, realShare: r.config.realShare, iteration: n, mean: c.meanTestError[n - 1], stdErr: c.stdErr[n - 1], theory: c.theory ? c.theory[n - 1] : null });
    }
  }
  return points.sort((a, b) => a.setting.T - b.setting.T || a.setting.d - b.setting.d || a.setting.sigma2 - b.setting.sigma2 || a.realShare - b.realShare);
}

/**
 * Proportion figure: test error at one iteration against the real share p of every training set, one
 * line per setting (e.g. per real set size T): Monte Carlo ±1 SE, the exact expectation given the
 * designs (averaged over the worlds) dashed; log y.
 */
export function linearProportionFigure(points: readonly ProportionPoint[], opts: { title?: string } = {}): Figure {
  if (points.length === 0) throw new Error("linearProportionFigure: no points");
  const several = new Set(points.map((p) => `${p.setting.d},${p.setting.sigma2}`)).size > 1;
  const lines = [...new Set(points.map((p) => settingLabel(p.setting)))].map((key) => {
    const line = points.filter((p) => settingLabel(p.setting) === key);
    return {
      label: `T=${line[0].setting.T}` + (several ? ` (d=${line[0].setting.d}, ${SIGMA}=${line[0].setting.sigma2})` : ""),
      share: line.map((p) => p.realShare),
      mean: line.map((p) => p.mean),
      se: line.map((p) => p.stdErr),
      ...(line.every((p) => p.theory !== null) ? { theory: line.map((p) => p.theory!) } : {}),
    };
  });
  const iterations = [...new Set(points.map((p) => p.iteration))];
  return proportionFigure(lines, {
    axisTitle: "test error ‖ŵ−w*‖²<sub>Σ</sub>",
    title: opts.title ?? `Real share p of every training set: test error at iteration ${iterations.join("/")} (Monte Carlo ±1 SE, theory dashed)`,
    logY: true,
  });
}
