import { CholeskyDecomposition, Matrix } from "ml-matrix";
import type { DataCodec, Modality } from "../collapse/modality";
import { type SequenceConfig, checkSequenceFields } from "../collapse/spec";
import type { Strategy } from "../collapse/strategies";
import { ConfigError, DataError, checkInt, checkKnownKeys, fieldNames } from "../errors";
import type { Rng } from "../random";
import { frechetDistance, precisionRecall, toMatrix } from "../metrics/features";

/**
 * The cheapest generative model of all, for the Figure 8 discussion (Alemohammad et al.'s Gaussian
 * experiments): a multivariate Gaussian fit by maximum likelihood (sample mean, covariance divided by
 * n), sampled, refit on its own samples. Under replace its variance performs a downward-biased random
 * walk and collapses; when data accumulate the fitted distribution stays near the truth.
 */
export interface GaussianData {
  /** n × dim points, row-major. */
  readonly points: Float64Array;
  readonly n: number;
  readonly dim: number;
}

export interface GaussianModel {
  mean: Float64Array;
  /** dim × dim, row-major. */
  cov: Float64Array;
}

export interface GaussianTruth {
  mean: number[];
  /** Row-major dim × dim covariance (symmetric positive definite). */
  cov: number[];
}

export interface GaussianModalityOptions {
  truth: GaussianTruth;
  /** Real points the precision/recall of model samples are measured against. */
  referenceSize: number;
  /** Samples drawn from each model for precision/recall (default: referenceSize). */
  metricSamples?: number;
  /** k of the k-NN manifolds (default 3). */
  k?: number;
}

/** n draws from N(mean, cov). */
export function sampleGaussian(mean: ArrayLike<number>, cov: ArrayLike<number>, n: number, rng: Rng): GaussianData {
  const dim = mean.length;
  const l = choleskyFactor(cov, dim);
  const points = new Float64Array(n * dim);
  const z = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) z[j] = rng.normal();
    for (let a = 0; a < dim; a++) {
      let s = mean[a];
      for (let b = 0; b <= a; b++) s += l[a * dim + b] * z[b];
      points[i * dim + a] = s;
    }
  }
  return { points, n, dim };
}

/** Lower-triangular L with L Lᵀ = cov; a singular (collapsed) covariance gets a tiny ridge. */
function choleskyFactor(cov: ArrayLike<number>, dim: number): Float64Array {
  const m = toMatrix(cov, dim);
  let chol = new CholeskyDecomposition(m);
  if (!chol.isPositiveDefinite()) chol = new CholeskyDecomposition(m.add(Matrix.eye(dim).mul(1e-12)));
  const l = chol.lowerTriangularMatrix;
  return Float64Array.from({ length: dim * dim }, (_, k) => l.get(Math.floor(k / dim), k % dim));
}

/** Maximum-likelihood mean and covariance (divided by n) of the union of datasets. */
export function fitGaussian(parts: readonly GaussianData[]): GaussianModel {
  const dim = parts[0].dim;
  const n = parts.reduce((s, p) => s + p.n, 0);
  const mean = new Float64Array(dim);
  for (const p of parts) for (let i = 0; i < p.n; i++) for (let j = 0; j < dim; j++) mean[j] += p.points[i * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= n;
  // Lower triangle only, mirrored after: the same products summed in the same order as the full
  // square (so the same bits), at half the work, which dominates accumulate's fits on large pools.
  const cov = new Float64Array(dim * dim);
  const centered = new Float64Array(dim);
  for (const p of parts) {
    for (let i = 0; i < p.n; i++) {
      for (let a = 0; a < dim; a++) centered[a] = p.points[i * dim + a] - mean[a];
      for (let a = 0; a < dim; a++) {
        const ca = centered[a];
        for (let b = 0; b <= a; b++) cov[a * dim + b] += ca * centered[b];
      }
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = 0; b <= a; b++) {
      cov[a * dim + b] /= n;
      cov[b * dim + a] = cov[a * dim + b];
    }
  }
  return { mean, cov };
}

/**
 * log det(Σ̂) − log det(Σ₀) of a fitted covariance below which every fit reads as collapsed: each of the
 * dim directions' variance shrunk to float64's relative precision (ε ≈ 2.2e-16) of the truth's. A
 * covariance that is singular in float64 (fewer distinct samples than dimensions, or variances that
 * underflowed to 0) has no finite log determinant, and the loop accepts finite metrics only.
 */
export function collapsedLogDetRatio(dim: number): number {
  return dim * Math.log(Number.EPSILON);
}

/** Lower-triangular L with L Lᵀ = cov (row-major), or null where cov is not positive definite in float64. */
function strictCholesky(cov: ArrayLike<number>, dim: number): Matrix | null {
  const m = toMatrix(cov, dim);
  const chol = new CholeskyDecomposition(m);
  return chol.isPositiveDefinite() ? chol.lowerTriangularMatrix : null;
}

/** log det of a positive-definite covariance from its Cholesky factor: 2 Σ log Lᵢᵢ (no overflow or underflow of the product). */
function logDetFromFactor(l: Matrix): number {
  let s = 0;
  for (let i = 0; i < l.rows; i++) s += Math.log(l.get(i, i));
  return 2 * s;
}

/**
 * log det(Σ̂) − log det(Σ₀) (Kazdan et al. 2025's collapse measure, as a log): 0 for a perfect fit,
 * → −∞ as replace collapses. Floored at collapsedLogDetRatio(dim), which a singular Σ̂ also reads as.
 */
export function logDetRatio(cov: ArrayLike<number>, dim: number, truthLogDet: number): number {
  const floor = collapsedLogDetRatio(dim);
  const l = strictCholesky(cov, dim);
  if (!l) return floor;
  const ratio = logDetFromFactor(l) - truthLogDet;
  // A zero pivot gives −∞, a NaN-free non-finite value; both mean "singular".
  return Number.isFinite(ratio) ? Math.max(floor, ratio) : floor;
}

/** The truth's Cholesky factor; a ConfigError naming truth.cov if it is not symmetric positive definite. */
function truthFactor(truth: GaussianTruth): Matrix {
  const dim = truth.mean.length;
  for (let a = 0; a < dim; a++) {
    for (let b = 0; b < a; b++) {
      if (truth.cov[a * dim + b] !== truth.cov[b * dim + a]) throw new ConfigError("truth.cov", `must be symmetric: entries (${a}, ${b}) and (${b}, ${a}) differ`);
    }
  }
  const l = strictCholesky(truth.cov, dim);
  if (!l) throw new ConfigError("truth.cov", "must be positive definite (the log density and det ratio need its inverse and determinant)");
  return l;
}

/** log N(x; mean, LLᵀ) of every row of `data`: −½(‖L⁻¹(x − mean)‖² + dim·log 2π + log det). */
function logDensities(data: GaussianData, mean: ArrayLike<number>, l: Matrix, logDet: number): Float64Array {
  const dim = data.dim;
  const out = new Float64Array(data.n);
  const z = new Float64Array(dim);
  const constant = dim * Math.log(2 * Math.PI) + logDet;
  for (let i = 0; i < data.n; i++) {
    // Forward substitution L z = x − mean.
    let quad = 0;
    for (let a = 0; a < dim; a++) {
      let s = data.points[i * dim + a] - mean[a];
      for (let b = 0; b < a; b++) s -= l.get(a, b) * z[b];
      z[a] = s / l.get(a, a);
      quad += z[a] * z[a];
    }
    out[i] = -0.5 * (quad + constant);
  }
  return out;
}

export function gaussianModality(o: GaussianModalityOptions): Modality<GaussianData, GaussianModel> {
  const dim = o.truth.mean.length;
  if (o.truth.cov.length !== dim * dim) throw new ConfigError("truth.cov", `needs ${dim * dim} entries for dimension ${dim}`);
  const truth = { dim, mean: Float64Array.from(o.truth.mean), cov: Float64Array.from(o.truth.cov) };
  const truthL = truthFactor(o.truth);
  const truthLogDet = logDetFromFactor(truthL);
  return {
    name: "gaussian",
    size: (d) => d.n,
    select: (d, idx) => {
      const points = new Float64Array(idx.length * d.dim);
      idx.forEach((i, k) => points.set(d.points.subarray(i * d.dim, (i + 1) * d.dim), k * d.dim));
      return { points, n: idx.length, dim: d.dim };
    },
    real: (size, rng) => sampleGaussian(truth.mean, truth.cov, size, rng),
    fit: (parts) => fitGaussian(parts.map((p) => p.data)),
    sample: (model, size, rng) => sampleGaussian(model.mean, model.cov, size, rng),
    evaluate(model, rng) {
      let meanError = 0;
      for (let j = 0; j < dim; j++) meanError += (model.mean[j] - truth.mean[j]) ** 2;
      let variance = 0;
      for (let j = 0; j < dim; j++) variance += model.cov[j * dim + j];
      const metrics: Record<string, number> = {
        frechetDistance: frechetDistance({ dim, ...model }, truth),
        totalVariance: variance,
        meanError: Math.sqrt(meanError),
        logDetRatio: logDetRatio(model.cov, dim, truthLogDet),
      };
      metrics.detRatio = Math.exp(metrics.logDetRatio);
      if (o.referenceSize > 0) {
        const real = sampleGaussian(truth.mean, truth.cov, o.referenceSize, rng.fork("reference"));
        const fake = sampleGaussian(model.mean, model.cov, o.metricSamples ?? o.referenceSize, rng.fork("samples"));
        Object.assign(metrics, precisionRecall(real.points, real.n, fake.points, fake.n, dim, o.k ?? 3));
      }
      return metrics;
    },
    codec: gaussianCodec,
    verifiers: {
      // A sample the truth finds likely is kept first: curation by an oracle that knows the real distribution.
      oracle: (data) => logDensities(data, truth.mean, truthL, truthLogDet),
    },
  };
}

/** Layout: n u32, dim u32, then n·dim float64 (little-endian). */
export const gaussianCodec: DataCodec<GaussianData> = {
  encode(d) {
    const buf = Buffer.alloc(8 + 8 * d.points.length);
    buf.writeUInt32LE(d.n, 0);
    buf.writeUInt32LE(d.dim, 4);
    d.points.forEach((v, i) => buf.writeDoubleLE(v, 8 + 8 * i));
    return buf;
  },
  decode(bytes) {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buf.length < 8) throw new DataError("gaussian dataset", "truncated header");
    const n = buf.readUInt32LE(0);
    const dim = buf.readUInt32LE(4);
    if (buf.length !== 8 + 8 * n * dim) throw new DataError("gaussian dataset", `truncated or corrupt: ${buf.length} bytes for ${n} × ${dim}`);
    return { points: Float64Array.from({ length: n * dim }, (_, i) => buf.readDoubleLE(8 + 8 * i)), n, dim };
  },
};

/** A Figure 8 sequence: Gaussian fits under one strategy. */
export interface GaussianSequenceConfig extends SequenceConfig {
  /** 1 or more; the truth is N(0, diag(1, 0.5, ...)) unless `truth` is given. */
  dim: number;
  /** Real samples in the original set; every synthetic set has as many. */
  samples: number;
  strategy: Strategy;
  iterations: number;
  seed: number;
  /** Real points for precision/recall per iteration (0 = skip them, fastest). */
  referenceSize: number;
  /** Fresh real samples added at every iteration ≥ 2 (0 = none). */
  freshRealSamples?: number;
  truth?: GaussianTruth;
}

export function checkGaussianSequenceConfig(c: GaussianSequenceConfig): GaussianSequenceConfig {
  checkKnownKeys("", c, fieldNames<GaussianSequenceConfig>({ dim: true, samples: true, strategy: true, iterations: true, seed: true, referenceSize: true, freshRealSamples: true, truth: true, curation: true, realShare: true }));
  const dim = checkInt("dim", c.dim, { min: 1, max: 64 });
  checkInt("samples", c.samples, { min: 2 });
  checkSequenceFields(c);
  checkInt("referenceSize", c.referenceSize, { min: 0 });
  checkInt("freshRealSamples", c.freshRealSamples ?? 0, { min: 0 });
  if (c.truth && (c.truth.mean.length !== dim || c.truth.cov.length !== dim * dim)) throw new ConfigError("truth", `must have dimension ${dim}`);
  if (c.truth) truthFactor(c.truth);
  return c;
}

/** The default truth: zero mean, diagonal covariance with variances 1, ½, ⅓, ... */
export function defaultGaussianTruth(dim: number): GaussianTruth {
  return { mean: new Array(dim).fill(0), cov: Array.from({ length: dim * dim }, (_, k) => (Math.floor(k / dim) === k % dim ? 1 / (1 + (k % dim)) : 0)) };
}
