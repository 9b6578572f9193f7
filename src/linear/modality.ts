import type { DataCodec, Modality } from "../collapse/modality";
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

/**
 * Linear regression as a collapse-loop modality. Real labels are y = Xw* + ε; a model's synthetic
 * labels are y = Xŵ + ε on the same X (cycling through its rows when more than T are asked for).
 */
export function linearModality(problem: LinearProblem): Modality<LinearData, LinearModel> {
  const { T, d, sigma2, testSamples } = problem.config;
  const noiseStd = Math.sqrt(sigma2);

  const labels = (w: Float64Array, size: number, rng: Rng): LinearData => {
    const mean = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += problem.X[t * d + i] * w[i];
      mean[t] = s;
    }
    const y = new Float64Array(size);
    for (let i = 0; i < size; i++) y[i] = mean[i % T] + noiseStd * rng.normal();
    return { rows: size === T ? null : Int32Array.from({ length: size }, (_, i) => i % T), y };
  };

  return {
    name: "linear",
    size: (data) => data.y.length,
    select: (data, indices) => ({
      rows: Int32Array.from(indices, (i) => (data.rows ? data.rows[i] : i)),
      y: Float64Array.from(indices, (i) => data.y[i]),
    }),
    real: (size, rng) => labels(problem.wStar, size, rng),
    fit: (train) => fitLinear(problem, train),
    sample: (w, size, rng) => labels(w, size, rng),
    evaluate: (w, rng) => {
      const metrics: Record<string, number> = { testError: exactTestError(problem, w) };
      if (testSamples > 0) metrics.testMSE = empiricalTestMse(problem, w, testSamples, rng);
      return metrics;
    },
    codec: linearCodec,
  };
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
