import type { DataCodec, Modality, Verifier } from "../collapse/modality";
import type { Part } from "../collapse/strategies";
import { DataError } from "../errors";
import type { Rng } from "../random";
import { type LinearProblem, empiricalTestMse, exactTestError, solveFromCounts } from "./problem";

/**
 * Labelled rows of the fixed design matrix X. `rows[i]` is the row of X that sample i uses; `null`
 * means one copy of every row in order (the common case, stored without an index array).
 */
export interface LinearData {
  readonly rows: Int32Array | null;
  readonly y: Float64Array;
}

/** A fitted linear model: its coefficient vector ŵ. */
export type LinearModel = Float64Array;

/** The verifiers curation can use on the linear modality (see linearVerifiers). */
export const LINEAR_VERIFIERS = ["oracle", "noisy"] as const;
export type LinearVerifierName = (typeof LINEAR_VERIFIERS)[number];

export interface LinearModalityOptions {
  /**
   * The row of X a synthetic set starts on (it then cycles through the rows). 0 by default. Under a
   * real share the kept real samples are rows 0..r−1, so starting the synthetic ones at row r makes
   * every training set cover X exactly once, as in the paper's fixed design; starting at 0 would put
   * them on the same rows and leave rows r..T−1 unused (rank-deficient once fewer than d rows remain).
   */
  syntheticStartRow?: number;
  /**
   * The noisy verifier's weights w_v = w* + δ, δ ~ N(0, (τ²/d)·I) drawn once per world (so E‖δ‖² = τ²).
   * Without it the modality has only the oracle verifier.
   */
  noisyVerifier?: { tau2: number; rng: Rng };
}

/** The rows of X a set of `size` labels sits on, starting at `start` and cycling (what `labels` uses). */
export function cyclingRows(T: number, size: number, start = 0): Int32Array {
  return Int32Array.from({ length: size }, (_, i) => (start + i) % T);
}

/**
 * Linear regression as a collapse-loop modality. Real labels are y = Xw* + ε; a model's synthetic
 * labels are y = Xŵ + ε on the same X (cycling through its rows when more than T are asked for).
 */
export function linearModality(problem: LinearProblem, options: LinearModalityOptions = {}): Modality<LinearData, LinearModel> {
  const { T, d, sigma2, testSamples } = problem.config;
  const noiseStd = Math.sqrt(sigma2);
  const syntheticStart = options.syntheticStartRow ?? 0;

  const labels = (w: Float64Array, size: number, rng: Rng, start: number): LinearData => {
    const mean = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += problem.X[t * d + i] * w[i];
      mean[t] = s;
    }
    const y = new Float64Array(size);
    for (let i = 0; i < size; i++) y[i] = mean[(start + i) % T] + noiseStd * rng.normal();
    return { rows: size === T && start === 0 ? null : cyclingRows(T, size, start), y };
  };

  return {
    name: "linear",
    size: (data) => data.y.length,
    select: (data, indices) => ({
      rows: Int32Array.from(indices, (i) => (data.rows ? data.rows[i] : i)),
      y: Float64Array.from(indices, (i) => data.y[i]),
    }),
    real: (size, rng) => labels(problem.wStar, size, rng, 0),
    fit: (train) => fitLinear(problem, train),
    sample: (w, size, rng) => labels(w, size, rng, syntheticStart),
    evaluate: (w, rng) => {
      const metrics: Record<string, number> = { testError: exactTestError(problem, w) };
      if (testSamples > 0) metrics.testMSE = empiricalTestMse(problem, w, testSamples, rng);
      return metrics;
    },
    codec: linearCodec,
    verifiers: linearVerifiers(problem, options.noisyVerifier),
  };
}

/**
 * Verifiers of synthetic labels, higher = more trustworthy. `oracle`: −|y − x·w*|, the residual under
 * the true weights. `noisy` (ours, given a τ²): −|y − x·w_v| with w_v = w* + δ, δ ~ N(0, (τ²/d)·I)
 * drawn once here, a verifier that knows the truth only up to an error of squared norm τ² on average.
 */
export function linearVerifiers(problem: LinearProblem, noisy?: { tau2: number; rng: Rng }): Record<string, Verifier<LinearData, LinearModel>> {
  const { d } = problem.config;
  const verifiers: Record<string, Verifier<LinearData, LinearModel>> = { oracle: (data) => residualScores(problem, problem.wStar, data) };
  if (noisy) {
    const delta = noisy.rng.normals(d, Math.sqrt(noisy.tau2 / d));
    const wV = problem.wStar.map((w, i) => w + delta[i]);
    verifiers.noisy = (data) => residualScores(problem, wV, data);
  }
  return verifiers;
}

/** −|y_i − x_{row i}·w| for every sample (rows null: sample i is on row i). */
export function residualScores(problem: LinearProblem, w: Float64Array, data: LinearData): Float64Array {
  const { d } = problem.config;
  const { X } = problem;
  const scores = new Float64Array(data.y.length);
  for (let i = 0; i < data.y.length; i++) {
    const o = (data.rows ? data.rows[i] : i) * d;
    let fit = 0;
    for (let j = 0; j < d; j++) fit += X[o + j] * w[j];
    scores[i] = -Math.abs(data.y[i] - fit);
  }
  return scores;
}

/** The least-squares fit on the union of the parts, via per-row counts and label sums. */
export function fitLinear(problem: LinearProblem, train: readonly Part<LinearData>[]): LinearModel {
  const { T } = problem.config;
  const counts = new Float64Array(T);
  const sums = new Float64Array(T);
  for (const { data } of train) {
    if (data.rows === null) {
      for (let t = 0; t < T; t++) {
        counts[t] += 1;
        sums[t] += data.y[t];
      }
    } else {
      for (const r of data.rows) if (!(r >= 0 && r < T)) throw new DataError("linear dataset", `row index ${r} outside the design matrix (T=${T})`);
      for (let i = 0; i < data.rows.length; i++) {
        counts[data.rows[i]] += 1;
        sums[data.rows[i]] += data.y[i];
      }
    }
  }
  return solveFromCounts(problem, counts, sums);
}

const MAGIC = 0x4c494e31; // "LIN1"

/** Binary layout: magic, size, hasRows (u32 each), then rows (i32 × size, if any), then y (f64 × size). */
export const linearCodec: DataCodec<LinearData> = {
  encode(data) {
    const n = data.y.length;
    const buf = Buffer.alloc(16 + (data.rows ? 4 * n : 0) + 8 * n);
    buf.writeUInt32LE(MAGIC, 0);
    buf.writeUInt32LE(n, 4);
    buf.writeUInt32LE(data.rows ? 1 : 0, 8);
    let o = 16;
    if (data.rows) for (let i = 0; i < n; i++, o += 4) buf.writeInt32LE(data.rows[i], o);
    for (let i = 0; i < n; i++, o += 8) buf.writeDoubleLE(data.y[i], o);
    return buf;
  },
  decode(bytes) {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buf.length < 16 || buf.readUInt32LE(0) !== MAGIC) throw new DataError("linear dataset", "not a collapse-kit linear dataset (bad magic)");
    const n = buf.readUInt32LE(4);
    const hasRows = buf.readUInt32LE(8) === 1;
    const expected = 16 + (hasRows ? 4 * n : 0) + 8 * n;
    if (buf.length !== expected) throw new DataError("linear dataset", `truncated or corrupt: ${buf.length} bytes, expected ${expected}`);
    let o = 16;
    const rows = hasRows ? new Int32Array(n) : null;
    if (rows) for (let i = 0; i < n; i++, o += 4) rows[i] = buf.readInt32LE(o);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++, o += 8) y[i] = buf.readDoubleLE(o);
    return { rows, y };
  },
};
