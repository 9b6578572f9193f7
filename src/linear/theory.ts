import { CholeskyDecomposition, Matrix } from "ml-matrix";
import type { Strategy } from "../collapse/strategies";
import { type LinearProblem, toRows } from "./problem";

/** σ²d/(T−d−1): the expected test error of one OLS fit on T real samples (needs T > d + 1). */
export function unitError(d: number, T: number, sigma2: number): number | null {
  return T > d + 1 ? (sigma2 * d) / (T - d - 1) : null;
}

/** The paper's closed form for replace: E_test(ŵ_n) = σ²d/(T−d−1) · n. */
export function theoryReplace(n: number, d: number, T: number, sigma2: number): number | null {
  const c = unitError(d, T, sigma2);
  return c === null ? null : c * n;
}

/** The paper's closed form for accumulate: σ²d/(T−d−1) · Σ_{i≤n} 1/i², bounded by σ²d/(T−d−1) · π²/6. */
export function theoryAccumulate(n: number, d: number, T: number, sigma2: number): number | null {
  const c = unitError(d, T, sigma2);
  if (c === null) return null;
  let s = 0;
  for (let i = 1; i <= n; i++) s += 1 / (i * i);
  return c * s;
}

export interface TheoryOptions {
  d: number;
  T: number;
  sigma2: number;
  iterations: number;
  /** Synthetic rows per iteration as a multiple of T (must be a whole number for a closed form). */
  syntheticScale?: number;
  /** Fresh real rows per iteration as a multiple of T (whole number). */
  freshRealScale?: number;
  ridge?: number;
}

/**
 * Expected test error per iteration, for any strategy whose training sets are whole copies of X.
 *
 * Why this works: conditional on X, ŵ_n − w* is a linear combination of independent noise vectors
 * η = X⁺ε, each with covariance σ²(XᵀX)⁻¹. A training set made of C copies of X with labels
 * X(ŵ_src) + ε (or Xw* + ε for real data) gives ŵ_n − w* = (1/C) Σ_copies ((ŵ_src − w*) + η_copy).
 * Tracking the coefficient of every noise term therefore gives E‖ŵ_n − w*‖²_Σ =
 * σ²d/(T−d−1) · Σ_k coef_k² · (copies in term k), using E[tr(Σ(XᵀX)⁻¹)] = d/(T−d−1) for Gaussian X.
 * It reproduces both closed forms of the paper (tested) and extends them to replace-multiple, augment
 * and fresh real data. Returns null where no closed form exists here: accumulate-subsample (random row
 * duplicates), ridge > 0, fractional scales, or T ≤ d + 1 (infinite expectation).
 */
export function theoryCurve(strategy: Strategy, o: TheoryOptions): number[] | null {
  const c = unitError(o.d, o.T, o.sigma2);
  const k = o.syntheticScale ?? 1;
  const f = o.freshRealScale ?? 0;
  if (c === null || (o.ridge ?? 0) > 0 || strategy === "accumulate-subsample") return null;
  if (!Number.isInteger(k) || !Number.isInteger(f) || k < 1 || f < 0) return null;

  type Coefs = Map<number, number>; // noise term id → coefficient
  const variance = new Map<number, number>(); // noise term id → number of copies summed in it
  let nextId = 0;
  const newNoise = (copies: number) => {
    variance.set(nextId, copies);
    return nextId++;
  };
  interface Block {
    copies: number;
    source: Coefs | null; // error of the generating model; null for real data
    noise: number;
  }
  const real0: Block = { copies: 1, source: null, noise: newNoise(1) };
  const freshBlocks: Block[] = [];
  const synthetic: Block[] = [];
  const errors: Coefs[] = [];
  const out: number[] = [];
  let accumulatedCopies = 1;

  for (let n = 1; n <= o.iterations; n++) {
    let blocks: Block[];
    if (n === 1) blocks = [real0];
    else {
      if (f > 0) freshBlocks.push({ copies: f, source: null, noise: newNoise(f) });
      const fresh = f > 0 ? [freshBlocks[freshBlocks.length - 1]] : [];
      const newest = synthetic[n - 2];
      switch (strategy) {
        case "replace":
        case "replace-multiple":
        case "replace-matched-compute": // OLS is closed-form: training longer changes nothing
          blocks = [newest, ...fresh];
          break;
        case "augment":
          blocks = [real0, newest, ...fresh];
          break;
        case "accumulate":
          blocks = [real0, ...freshBlocks, ...synthetic];
          break;
      }
    }
    const total = blocks.reduce((s, b) => s + b.copies, 0);
    const coefs: Coefs = new Map();
    const add = (id: number, v: number) => coefs.set(id, (coefs.get(id) ?? 0) + v);
    for (const b of blocks) {
      if (b.source) for (const [id, v] of b.source) add(id, (b.copies * v) / total);
      add(b.noise, 1 / total);
    }
    errors.push(coefs);
    let e = 0;
    for (const [id, v] of coefs) e += v * v * variance.get(id)!;
    out.push(c * e);
    // Data model n hands on: replace-multiple grows to accumulate's real + synthetic size.
    accumulatedCopies += k;
    const copies = strategy === "replace-multiple" ? accumulatedCopies : k;
    synthetic.push({ copies, source: coefs, noise: newNoise(copies) });
  }
  return out;
}

/*
 * Curation has no closed form here. Keeping the best share of a model's samples by their residual
 * under w* (or w_v) is a truncated-distribution problem that depends on each row through x·(ŵ − w_v),
 * and the kept rows differ from set to set, so the next fit's design is random too. Curves of curated
 * experiments carry theory null and their figures show the Monte Carlo only. (A small-signal heuristic,
 * not used as theory: when x·(ŵ − w*) ≪ σ an oracle keeping a share q acts like a residual window
 * |r| ≤ c, c = σΦ⁻¹((1+q)/2), which shrinks the inherited error by κ = Var(ε | |ε| ≤ c)/σ² and adds noise
 * of variance κσ², so replace's error would settle near κ/(1−κ²)·σ²d/(T−d−1).)
 */

/** Where the rows of a real-share sequence sit: what the loop and the linear modality do with them. */
export interface RealShareRows {
  /** Rows of X under the real samples every model n ≥ 2 keeps: the first r of the original set. */
  realRows: Int32Array;
  /** Rows of X under the synthetic samples every model n ≥ 2 trains on (with repeats, if any). */
  syntheticRows: Int32Array;
}

/**
 * The expected test error of a real-share sequence, exact over the label noise given the design X:
 * E[‖ŵ_n − w*‖²_Σ | X] for n = 1..iterations (OLS; null where Σ over the training rows is singular).
 *
 * Why this is exact: with G_R = X_RᵀX_R, G_S = X_SᵀX_S and Σ_tr = G_R + G_S (the training rows of every
 * model n ≥ 2), e_n = ŵ_n − w* satisfies e_1 = (XᵀX)⁻¹Xᵀε_1 and, for n ≥ 2,
 *   e_n = A e_{n−1} + Σ_tr⁻¹X_Rᵀε_R + Σ_tr⁻¹X_Sᵀη_n,   A = Σ_tr⁻¹G_S,
 * since the kept real labels are X_Rw* + ε_R and the synthetic ones X_Sŵ_{n−1} + η_n (w* cancels).
 * ε_R is part of ε_1 and the same in every iteration; the rest of ε_1 (rows not kept) and every η_n are
 * independent of it. Each noise vector's coefficient matrix is M·X_ᵀ for a d×d M, so e_n's covariance is
 *   σ² (M_n G_R M_nᵀ + N_n G_rest N_nᵀ + Q_n),
 * M_1 = N_1 = (XᵀX)⁻¹, M_n = A M_{n−1} + Σ_tr⁻¹ (ε_R: inherited and re-entering every fit),
 * N_n = A N_{n−1} (the rest of ε_1, only inherited), Q_1 = 0, Q_n = A Q_{n−1} Aᵀ + Σ_tr⁻¹G_SΣ_tr⁻¹
 * (the η's), and the error is the trace of Σ times it. Only d×d recursions, whatever T.
 */
export function realShareTheory(problem: LinearProblem, rows: RealShareRows, iterations: number): number[] | null {
  const { d, T, sigma2 } = problem.config;
  const { X, sigma } = problem;
  const all = gramOfRows(X, d, Int32Array.from({ length: T }, (_, t) => t));
  const gR = gramOfRows(X, d, rows.realRows);
  const gS = gramOfRows(X, d, rows.syntheticRows);
  const gRest = all.clone().sub(gR);
  const firstInverse = inverseOrNull(all);
  const trainInverse = inverseOrNull(gR.clone().add(gS));
  if (firstInverse === null || trainInverse === null) return null;
  const sigmaX = new Matrix(toRows(sigma, d, d));
  const A = trainInverse.mmul(gS);
  const syntheticNoise = trainInverse.mmul(gS).mmul(trainInverse);
  let M = firstInverse;
  let N = firstInverse;
  let Q = Matrix.zeros(d, d);
  const out: number[] = [];
  for (let n = 1; n <= iterations; n++) {
    if (n >= 2) {
      M = A.mmul(M).add(trainInverse);
      N = A.mmul(N);
      Q = A.mmul(Q).mmul(A.transpose()).add(syntheticNoise);
    }
    const covariance = M.mmul(gR).mmul(M.transpose()).add(N.mmul(gRest).mmul(N.transpose())).add(Q);
    out.push(sigma2 * traceOfProduct(sigmaX, covariance));
  }
  return out;
}

/** Σ_{t in rows} x_t x_tᵀ (a row listed twice counts twice). */
function gramOfRows(X: Float64Array, d: number, rows: Int32Array): Matrix {
  const g = Matrix.zeros(d, d);
  for (const r of rows) {
    const o = r * d;
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) g.set(i, j, g.get(i, j) + X[o + i] * X[o + j]);
  }
  return g;
}

/** The inverse of a symmetric positive semi-definite matrix, or null when it is numerically singular. */
function inverseOrNull(a: Matrix): Matrix | null {
  const chol = new CholeskyDecomposition(a);
  if (!chol.isPositiveDefinite()) return null;
  const L = chol.lowerTriangularMatrix;
  let maxDiag = 0;
  let minDiag = Infinity;
  for (let i = 0; i < a.rows; i++) {
    maxDiag = Math.max(maxDiag, L.get(i, i));
    minDiag = Math.min(minDiag, L.get(i, i));
  }
  // A pivot this small relative to the largest means the fit takes the pseudo-inverse: not this formula.
  if (!(minDiag > maxDiag * 1e-6)) return null;
  return chol.solve(Matrix.eye(a.rows, a.rows));
}

/** tr(A B) for square A, B. */
function traceOfProduct(a: Matrix, b: Matrix): number {
  let s = 0;
  for (let i = 0; i < a.rows; i++) for (let k = 0; k < a.columns; k++) s += a.get(i, k) * b.get(k, i);
  return s;
}
