import type { Rng } from "../random";
import type { Points } from "./data";

/**
 * A kernel density estimate in the plane: the equal mixture of isotropic Gaussians N(c, h²I), one
 * centred on each training point c, with one bandwidth h for both coordinates (as scikit-learn's
 * KernelDensity, which "Collapse or Thrive" fits). Sampling picks a training point uniformly and adds
 * kernel noise, so a model refit on its own samples blurs by h² per generation and forgets the points
 * it did not pick: the two ways a KDE collapses.
 */
export interface Kde {
  /** The training points, the kernels' centres. */
  readonly centres: Points;
  readonly bandwidth: number;
}

/**
 * How the bandwidth is chosen: a fixed positive number, or fitted to the training points by
 * - "scott": h = σ·n^(−1/6), σ² the coordinates' mean variance: the bandwidth minimising the asymptotic
 *   mean integrated squared error when the data are Gaussian (Scott 1992, in d = 2 dimensions);
 * - "silverman": the same rule with Silverman's robust spread min(σ, IQR/1.349) (Silverman 1986,
 *   eq. 3.31), which shrinks the bandwidth of heavy-tailed data. In 2-D his normal-reference constant
 *   (4/(d+2))^(1/(d+4)) is 1, so the rules differ only in the spread; pooling the two coordinates'
 *   interquartile ranges by their root mean square, as the variances are, is ours;
 * - "cv": the bandwidth of a log-spaced grid that maximises the leave-one-out log-likelihood (see cvBandwidth).
 */
export const BANDWIDTH_RULES = ["scott", "silverman", "cv"] as const;
export type BandwidthRule = (typeof BANDWIDTH_RULES)[number];
export type Bandwidth = number | BandwidthRule;

/** A KDE on `points`; `rng` picks the points cross-validation scores (the other rules draw nothing). */
export function fitKde(points: Points, bandwidth: Bandwidth, rng: Rng): Kde {
  if (points.n < 2) throw new Error(`a KDE needs at least 2 training points, got ${points.n}`);
  const h = typeof bandwidth === "number" ? bandwidth : bandwidth === "cv" ? cvBandwidth(points, rng) : ruleOfThumb(points, bandwidth);
  if (!(h > 0 && Number.isFinite(h))) throw new Error(`bandwidth ${h} of ${points.n} training points: they have no spread to fit a bandwidth to`);
  return { centres: points, bandwidth: h };
}

/** Scott's or Silverman's rule of thumb (see BANDWIDTH_RULES). */
export function ruleOfThumb(points: Points, rule: "scott" | "silverman"): number {
  const variances = coordinateVariances(points);
  let spread = Math.sqrt((variances[0] + variances[1]) / 2);
  if (rule === "silverman") {
    const iqr = [0, 1].map((axis) => interquartileRange(points, axis));
    spread = Math.min(spread, Math.sqrt((iqr[0] ** 2 + iqr[1] ** 2) / 2) / 1.349);
  }
  return spread * points.n ** (-1 / 6);
}

/** Per-coordinate variances (divided by n) of the points. */
export function coordinateVariances(p: Points): [number, number] {
  let mx = 0;
  let my = 0;
  for (let i = 0; i < p.n; i++) {
    mx += p.points[2 * i];
    my += p.points[2 * i + 1];
  }
  mx /= p.n;
  my /= p.n;
  let vx = 0;
  let vy = 0;
  for (let i = 0; i < p.n; i++) {
    vx += (p.points[2 * i] - mx) ** 2;
    vy += (p.points[2 * i + 1] - my) ** 2;
  }
  return [vx / p.n, vy / p.n];
}

/** Upper minus lower quartile of one coordinate (quantiles interpolated linearly between order statistics). */
function interquartileRange(p: Points, axis: number): number {
  const values = Float64Array.from({ length: p.n }, (_, i) => p.points[2 * i + axis]).sort();
  const quantile = (q: number) => {
    const at = q * (values.length - 1);
    const below = Math.floor(at);
    return values[below] + (at - below) * (values[Math.min(below + 1, values.length - 1)] - values[below]);
  };
  return quantile(0.75) - quantile(0.25);
}

/** Training points whose leave-one-out log-likelihood cross-validation averages (a uniform subset beyond this). */
export const CV_POINTS = 300;
/** The cross-validation grid: this many bandwidths, log-spaced from Scott's/CV_GRID_SPAN to Scott's·2. */
export const CV_GRID_SIZE = 21;
export const CV_GRID_SPAN = 32;

/**
 * The bandwidth of the grid that maximises the mean leave-one-out log-likelihood: each point's log
 * density under the KDE of all the other points (Duin 1976; Silverman 1986, §3.4.4). Over more than
 * CV_POINTS points the mean is taken over CV_POINTS of them drawn uniformly (each still left out of a
 * KDE on all the rest), an unbiased estimate of the full mean at CV_POINTS·n·CV_GRID_SIZE kernel
 * evaluations instead of n²·CV_GRID_SIZE. The grid, around Scott's rule and reaching well below it
 * because his rule oversmooths multimodal sets such as moons and circles, is ours.
 */
export function cvBandwidth(points: Points, rng: Rng): number {
  const scott = ruleOfThumb(points, "scott");
  const grid = Float64Array.from({ length: CV_GRID_SIZE }, (_, k) => (scott / CV_GRID_SPAN) * (2 * CV_GRID_SPAN) ** (k / (CV_GRID_SIZE - 1)));
  const held = points.n > CV_POINTS ? rng.choose(points.n, CV_POINTS) : Int32Array.from({ length: points.n }, (_, i) => i);
  const scores = new Float64Array(grid.length);
  const distances = new Float64Array(points.n);
  for (const i of held) {
    squaredDistances(points, points.points[2 * i], points.points[2 * i + 1], distances);
    distances[i] = Infinity; // left out
    grid.forEach((h, k) => (scores[k] += logMeanKernel(distances, points.n - 1, h)));
  }
  let best = 0;
  for (let k = 1; k < grid.length; k++) if (scores[k] > scores[best]) best = k;
  return grid[best];
}

/** Squared distances from (x, y) to every point, into `out`. */
function squaredDistances(p: Points, x: number, y: number, out: Float64Array): void {
  for (let j = 0; j < p.n; j++) {
    const dx = p.points[2 * j] - x;
    const dy = p.points[2 * j + 1] - y;
    out[j] = dx * dx + dy * dy;
  }
}

/**
 * Kernel terms below e^NEGLIGIBLE times the nearest point's are skipped (most of them, for a small
 * bandwidth): together they change a log density by less than n·e^NEGLIGIBLE, under 1e-12 for n ≤ 10⁵.
 */
const NEGLIGIBLE = -45;

/**
 * log((1/count)·Σ_j N(d_j; h)) for the 2-D Gaussian kernel at squared distances d_j (Infinity: a point
 * left out), by log-sum-exp around the nearest point so that far queries and tiny bandwidths stay finite.
 */
function logMeanKernel(distances: Float64Array, count: number, h: number): number {
  let nearest = Infinity;
  for (let j = 0; j < distances.length; j++) if (distances[j] < nearest) nearest = distances[j];
  const scale = -1 / (2 * h * h);
  let sum = 0;
  for (let j = 0; j < distances.length; j++) {
    const exponent = (distances[j] - nearest) * scale;
    if (exponent > NEGLIGIBLE) sum += Math.exp(exponent);
  }
  return nearest * scale + Math.log(sum / count) - Math.log(2 * Math.PI * h * h);
}

/** The model's log density at each query point: O(queries · training points). */
export function logDensities(model: Kde, queries: Points): Float64Array {
  const out = new Float64Array(queries.n);
  const distances = new Float64Array(model.centres.n);
  for (let i = 0; i < queries.n; i++) {
    squaredDistances(model.centres, queries.points[2 * i], queries.points[2 * i + 1], distances);
    out[i] = logMeanKernel(distances, model.centres.n, model.bandwidth);
  }
  return out;
}

/** Mean log density of the queries under the model. */
export function meanLogDensity(model: Kde, queries: Points): number {
  return logDensities(model, queries).reduce((s, v) => s + v, 0) / queries.n;
}

/** n draws: a training point picked uniformly, plus N(0, h²I) kernel noise. */
export function sampleKde(model: Kde, n: number, rng: Rng): Points {
  const { centres, bandwidth: h } = model;
  const points = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(centres.n);
    points[2 * i] = centres.points[2 * c] + h * rng.normal();
    points[2 * i + 1] = centres.points[2 * c + 1] + h * rng.normal();
  }
  return { points, n };
}

/** The trace of the model's covariance: the training points' variances plus the kernel's h² per coordinate. */
export function kdeTotalVariance(model: Kde): number {
  const [vx, vy] = coordinateVariances(model.centres);
  return vx + vy + 2 * model.bandwidth ** 2;
}

/** The union of point sets, in order. */
export function concatPoints(parts: readonly Points[]): Points {
  const n = parts.reduce((s, p) => s + p.n, 0);
  const points = new Float64Array(2 * n);
  let offset = 0;
  for (const p of parts) {
    points.set(p.points.subarray(0, 2 * p.n), offset);
    offset += 2 * p.n;
  }
  return { points, n };
}
