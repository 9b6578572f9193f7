import { CholeskyDecomposition, EigenvalueDecomposition, Matrix } from "ml-matrix";
import { ConfigError, checkInt, checkNumber } from "../errors";
import type { Rng } from "../random";

/**
 * Input covariance Σ: isotropic (the paper's figures), a power-law spectrum λ_i ∝ i^-decay rescaled to
 * trace d, or any symmetric positive-definite matrix.
 */
export type CovarianceSpec = "isotropic" | { decay: number } | { matrix: number[][] };

export interface LinearSetting {
  /** Input dimension. */
  d: number;
  /** Samples per iteration (rows of the design matrix X). */
  T: number;
  /** Label-noise variance σ². */
  sigma2: number;
}

export interface LinearProblemConfig extends LinearSetting {
  /** Ridge penalty λ ≥ 0 on ‖w‖² (0 = ordinary least squares through the pseudo-inverse). */
  ridge: number;
  covariance: CovarianceSpec;
  /** Fresh test samples for the empirical test MSE (0 = report only the exact ‖ŵ − w*‖²_Σ). */
  testSamples: number;
}

/** One draw of the world: the design matrix X (fixed across iterations, as in the paper) and w*. */
export interface LinearProblem {
  readonly config: LinearProblemConfig;
  /** T×d design matrix, row-major. */
  readonly X: Float64Array;
  readonly wStar: Float64Array;
  /** Σ, row-major d×d, and its Cholesky factor L (Σ = LLᵀ), for drawing inputs. */
  readonly sigma: Float64Array;
  readonly sigmaChol: Float64Array;
  /** Eigen-decomposition of XᵀX = V diag(λ) Vᵀ (V row-major, columns are eigenvectors). */
  readonly gramVectors: Float64Array;
  readonly gramValues: Float64Array;
}

export function checkSetting(field: string, s: LinearSetting): LinearSetting {
  const d = checkInt(`${field}.d`, s.d, { min: 1, max: 4096 });
  const T = checkInt(`${field}.T`, s.T, { min: 1 });
  const sigma2 = checkNumber(`${field}.sigma2`, s.sigma2, { min: 0 });
  return { d, T, sigma2 };
}

/** Σ as a row-major d×d array, validated positive-definite. */
export function covarianceMatrix(spec: CovarianceSpec, d: number, field = "covariance"): { sigma: Float64Array; chol: Float64Array } {
  const sigma = new Float64Array(d * d);
  if (spec === "isotropic") {
    for (let i = 0; i < d; i++) sigma[i * d + i] = 1;
  } else if (typeof spec === "object" && spec !== null && "decay" in spec) {
    const decay = checkNumber(`${field}.decay`, spec.decay, { min: 0 });
    let trace = 0;
    for (let i = 0; i < d; i++) trace += Math.pow(i + 1, -decay);
    for (let i = 0; i < d; i++) sigma[i * d + i] = (d * Math.pow(i + 1, -decay)) / trace;
  } else if (typeof spec === "object" && spec !== null && "matrix" in spec) {
    const m = spec.matrix;
    if (!Array.isArray(m) || m.length !== d || m.some((row) => !Array.isArray(row) || row.length !== d)) {
      throw new ConfigError(`${field}.matrix`, `must be a ${d}×${d} array of rows`);
    }
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        const v = checkNumber(`${field}.matrix[${i}][${j}]`, m[i][j]);
        if (Math.abs(v - m[j][i]) > 1e-12 * (1 + Math.abs(v))) throw new ConfigError(`${field}.matrix`, `is not symmetric at [${i}][${j}]`);
        // Symmetrize: entries equal up to rounding must not fail the exact-symmetry check of Cholesky.
        sigma[i * d + j] = (v + m[j][i]) / 2;
      }
    }
  } else {
    throw new ConfigError(field, `expected "isotropic", {decay: p} or {matrix: [[...]]}, got ${JSON.stringify(spec)}`);
  }
  const chol = new CholeskyDecomposition(new Matrix(toRows(sigma, d, d)));
  if (!chol.isPositiveDefinite()) throw new ConfigError(field, "is not positive-definite");
  return { sigma, chol: Float64Array.from(chol.lowerTriangularMatrix.to1DArray()) };
}

/** Draws X (rows x ~ N(0, Σ)) and w* ~ N(0, I/d). */
export function createLinearProblem(config: LinearProblemConfig, rng: Rng): LinearProblem {
  const { d, T } = config;
  const { sigma, chol } = covarianceMatrix(config.covariance, d);
  const wStar = rng.normals(d, 1 / Math.sqrt(d));
  const X = new Float64Array(T * d);
  for (let t = 0; t < T; t++) drawInput(rng, chol, d, X, t * d);
  const gram = new Float64Array(d * d);
  for (let t = 0; t < T; t++) {
    const o = t * d;
    for (let i = 0; i < d; i++) {
      const xi = X[o + i];
      for (let j = 0; j <= i; j++) gram[i * d + j] += xi * X[o + j];
    }
  }
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) gram[j * d + i] = gram[i * d + j];
  const eig = new EigenvalueDecomposition(new Matrix(toRows(gram, d, d)), { assumeSymmetric: true });
  return {
    config,
    X,
    wStar,
    sigma,
    sigmaChol: chol,
    gramVectors: Float64Array.from(eig.eigenvectorMatrix.to1DArray()),
    gramValues: Float64Array.from(eig.realEigenvalues),
  };
}

/** Writes one input x = L z, z ~ N(0, I), into out[offset..offset+d). */
export function drawInput(rng: Rng, chol: Float64Array, d: number, out: Float64Array, offset: number): void {
  const z = rng.normals(d);
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let j = 0; j <= i; j++) s += chol[i * d + j] * z[j];
    out[offset + i] = s;
  }
}

/**
 * Least squares (λ = 0: the minimum-norm solution, i.e. the pseudo-inverse) on rows of the fixed X,
 * where row j appears counts[j] times with label sum sums[j] over its copies. This is exactly the fit on
 * the stacked design matrix of all training rows, without ever forming it: ZᵀZ = Xᵀdiag(c)X and
 * Zᵀy = Xᵀs. When every row has the same count k, ZᵀZ = k·XᵀX and the precomputed eigenbasis of XᵀX
 * solves it in O(d²).
 */
export function solveFromCounts(problem: LinearProblem, counts: Float64Array, sums: Float64Array): Float64Array {
  const { d, T, ridge } = problem.config;
  const { X } = problem;
  const b = new Float64Array(d);
  for (let t = 0; t < T; t++) {
    const s = sums[t];
    if (s === 0) continue;
    const o = t * d;
    for (let i = 0; i < d; i++) b[i] += X[o + i] * s;
  }
  const k = counts[0];
  let uniform = true;
  for (let t = 1; t < T && uniform; t++) uniform = counts[t] === k;
  if (uniform) {
    const scaled = problem.gramValues.map((l) => k * l);
    return symmetricSolve(problem.gramVectors, scaled, ridge, b, d);
  }
  const A = new Float64Array(d * d);
  for (let t = 0; t < T; t++) {
    const c = counts[t];
    if (c === 0) continue;
    const o = t * d;
    for (let i = 0; i < d; i++) {
      const ci = c * X[o + i];
      for (let j = 0; j <= i; j++) A[i * d + j] += ci * X[o + j];
    }
  }
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < i; j++) A[j * d + i] = A[i * d + j];
    A[i * d + i] += ridge;
  }
  return choleskySolve(A, b, d) ?? pseudoInverseSolve(A, b, d);
}

/**
 * Solves A w = b for a well-conditioned symmetric positive-definite A in O(d³/6), or returns null
 * so the caller can fall back to the pseudo-inverse (rank-deficient or nearly so).
 */
function choleskySolve(A: Float64Array, b: Float64Array, d: number): Float64Array | null {
  const L = new Float64Array(d * d);
  let maxDiag = 0;
  for (let i = 0; i < d; i++) maxDiag = Math.max(maxDiag, A[i * d + i]);
  for (let j = 0; j < d; j++) {
    let s = A[j * d + j];
    for (let k = 0; k < j; k++) s -= L[j * d + k] * L[j * d + k];
    // A pivot this small means A is numerically singular: the minimum-norm solution is wanted then.
    if (!(s > maxDiag * 1e-10)) return null;
    const ljj = Math.sqrt(s);
    L[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let t = A[i * d + j];
      for (let k = 0; k < j; k++) t -= L[i * d + k] * L[j * d + k];
      L[i * d + j] = t / ljj;
    }
  }
  const z = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let t = b[i];
    for (let k = 0; k < i; k++) t -= L[i * d + k] * z[k];
    z[i] = t / L[i * d + i];
  }
  const w = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let t = z[i];
    for (let k = i + 1; k < d; k++) t -= L[k * d + i] * w[k];
    w[i] = t / L[i * d + i];
  }
  return w;
}

/** The minimum-norm solution of A w = b for symmetric positive semi-definite A (ridge already in A). */
function pseudoInverseSolve(A: Float64Array, b: Float64Array, d: number): Float64Array {
  const eig = new EigenvalueDecomposition(new Matrix(toRows(A, d, d)), { assumeSymmetric: true });
  return symmetricSolve(Float64Array.from(eig.eigenvectorMatrix.to1DArray()), Float64Array.from(eig.realEigenvalues), 0, b, d);
}

/**
 * w = V diag(1/(λ_i + ridge)) Vᵀ b, dropping directions whose eigenvalue is numerically zero (as the
 * pseudo-inverse does), so rank-deficient designs give the minimum-norm solution.
 */
function symmetricSolve(V: Float64Array, values: Float64Array, ridge: number, b: Float64Array, d: number): Float64Array {
  let maxValue = 0;
  for (const v of values) maxValue = Math.max(maxValue, Math.abs(v));
  const cutoff = maxValue * d * 1e-13;
  const w = new Float64Array(d);
  for (let k = 0; k < d; k++) {
    const denom = values[k] + ridge;
    if (ridge === 0 ? values[k] <= cutoff : denom <= 0) continue;
    let proj = 0;
    for (let i = 0; i < d; i++) proj += V[i * d + k] * b[i];
    const coef = proj / denom;
    for (let i = 0; i < d; i++) w[i] += coef * V[i * d + k];
  }
  return w;
}

/** Exact test error ‖ŵ − w*‖²_Σ = E_x[(x·ŵ − x·w*)²]. */
export function exactTestError(problem: LinearProblem, w: Float64Array): number {
  const { d } = problem.config;
  const diff = w.map((v, i) => v - problem.wStar[i]);
  let err = 0;
  for (let i = 0; i < d; i++) {
    let row = 0;
    for (let j = 0; j < d; j++) row += problem.sigma[i * d + j] * diff[j];
    err += diff[i] * row;
  }
  return err;
}

/** Mean squared error of ŵ on fresh real samples (x, x·w* + ε); its expectation is the test error + σ². */
export function empiricalTestMse(problem: LinearProblem, w: Float64Array, samples: number, rng: Rng): number {
  const { d, sigma2 } = problem.config;
  const x = new Float64Array(d);
  const noise = Math.sqrt(sigma2);
  let total = 0;
  for (let s = 0; s < samples; s++) {
    drawInput(rng, problem.sigmaChol, d, x, 0);
    let residual = noise * rng.normal();
    for (let i = 0; i < d; i++) residual += x[i] * (w[i] - problem.wStar[i]);
    total += residual * residual;
  }
  return total / samples;
}

export function toRows(a: Float64Array, rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, (_, i) => Array.from(a.subarray(i * cols, (i + 1) * cols)));
}
