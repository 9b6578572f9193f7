import { test } from "node:test";
import assert from "node:assert/strict";
import { Matrix, pseudoInverse, solve } from "ml-matrix";
import type { Part } from "../src/collapse/strategies";
import { STRATEGIES } from "../src/collapse/strategies";
import { ConfigError, DataError } from "../src/errors";
import { type LinearData, fitLinear, linearCodec, linearModality } from "../src/linear/modality";
import {
  type CovarianceSpec,
  type LinearProblem,
  covarianceMatrix,
  createLinearProblem,
  empiricalTestMse,
  exactTestError,
  solveFromCounts,
} from "../src/linear/problem";
import { theoryAccumulate, theoryCurve, theoryReplace, unitError } from "../src/linear/theory";
import { Rng } from "../src/random";
import { configErrorField } from "./helpers";

// ---------------------------------------------------------------------------------------------
// helpers

function makeProblem(d: number, T: number, opts: { ridge?: number; covariance?: CovarianceSpec; sigma2?: number; testSamples?: number; seed?: number } = {}): LinearProblem {
  return createLinearProblem(
    { d, T, sigma2: opts.sigma2 ?? 1, ridge: opts.ridge ?? 0, covariance: opts.covariance ?? "isotropic", testSamples: opts.testSamples ?? 0 },
    Rng.derive(opts.seed ?? 1, "linear-test", d, T),
  );
}

function part(data: LinearData, origin: "real" | "synthetic" = "synthetic", generation = 1): Part<LinearData> {
  return { data, origin, generation };
}

/** Labels for all T rows in order (rows = null). */
function fullData(T: number, rng: Rng): LinearData {
  return { rows: null, y: rng.normals(T, 2) };
}

/** Labels for the given rows. */
function rowData(rows: number[], rng: Rng): LinearData {
  return { rows: Int32Array.from(rows), y: rng.normals(rows.length, 2) };
}

/** The textbook fit on the explicitly stacked design matrix of all training rows. */
function naiveFit(problem: LinearProblem, parts: readonly Part<LinearData>[]): number[] {
  const { d, T, ridge } = problem.config;
  const Z: number[][] = [];
  const y: number[] = [];
  for (const { data } of parts) {
    const n = data.y.length;
    for (let i = 0; i < n; i++) {
      const r = data.rows ? data.rows[i] : i;
      assert.ok(r < T);
      Z.push(Array.from(problem.X.subarray(r * d, (r + 1) * d)));
      y.push(data.y[i]);
    }
  }
  const Zm = new Matrix(Z);
  const ym = Matrix.columnVector(y);
  if (ridge === 0) return pseudoInverse(Zm).mmul(ym).getColumn(0);
  const A = Zm.transpose().mmul(Zm).add(Matrix.eye(d, d).mul(ridge));
  return solve(A, Zm.transpose().mmul(ym)).getColumn(0);
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / Math.max(scale, 1e-300);
}

// ---------------------------------------------------------------------------------------------
// (a) fast path == naive fit

test("fitLinear (counts + eigenbasis) equals the naive stacked fit", () => {
  let cases = 0;
  let worst = 0;
  for (const d of [1, 3, 5]) {
    for (const T of [d, d + 2, 20]) {
      for (const ridge of [0, 0.5]) {
        for (const covariance of ["isotropic", { decay: 1 }] as CovarianceSpec[]) {
          const problem = makeProblem(d, T, { ridge, covariance });
          const rng = Rng.derive(7, "parts", d, T, ridge, JSON.stringify(covariance));
          const partSets: [string, Part<LinearData>[]][] = [];
          // uniform stacks of 1..4 full copies (rows = null), each with its own labels
          for (let k = 1; k <= 4; k++) {
            partSets.push([`${k} full copies`, Array.from({ length: k }, (_, i) => part(fullData(T, rng), i === 0 ? "real" : "synthetic", i + 1))]);
          }
          // a uniform stack expressed with explicit, cycling row indices (as replace-multiple samples)
          partSets.push(["2T cycling rows", [part(rowData(Array.from({ length: 2 * T }, (_, i) => i % T), rng))]]);
          // a uniform stack in a shuffled row order
          partSets.push(["permuted rows", [part(rowData(Array.from(rng.permutation(T)), rng)), part(fullData(T, rng), "real")]]);
          // non-uniform: real plus a synthetic subset with repeats
          const subset = Array.from({ length: Math.max(1, T - 1) }, (_, i) => (i * 2) % T);
          partSets.push(["real + subset", [part(fullData(T, rng), "real"), part(rowData(subset, rng))]]);
          partSets.push(["real + subset + 2 full", [part(fullData(T, rng), "real"), part(rowData(subset, rng)), part(fullData(T, rng)), part(fullData(T, rng))]]);
          // non-uniform: an accumulate-subsample style draw of T rows from a pool of 3 sets
          const sub = Array.from(rng.choose(3 * T, T), (i) => i % T);
          partSets.push(["subsample", [part(rowData(sub, rng))]]);
          // rank-deficient (fewer distinct rows than d): the minimum-norm solution
          if (d >= 3) partSets.push(["rank-deficient", [part(rowData([0, 1, 1, 0], rng))]]);
          for (const [what, parts] of partSets) {
            const fast = fitLinear(problem, parts);
            const naive = naiveFit(problem, parts);
            const rel = maxRelDiff(fast, naive);
            worst = Math.max(worst, rel);
            assert.ok(rel <= 1e-9, `d=${d} T=${T} ridge=${ridge} cov=${JSON.stringify(covariance)} ${what}: rel diff ${rel}\nfast  ${Array.from(fast)}\nnaive ${naive}`);
            cases++;
          }
        }
      }
    }
  }
  assert.ok(cases >= 200, `${cases} cases`);
});

test("solveFromCounts with all-zero labels gives w = 0; noiseless labels recover w* exactly", () => {
  const problem = makeProblem(4, 9, { sigma2: 0 });
  const w0 = solveFromCounts(problem, new Float64Array(9).fill(3), new Float64Array(9));
  assert.deepEqual(Array.from(w0), [0, 0, 0, 0]);
  const modality = linearModality(problem);
  const real = modality.real!(9, Rng.fromSeed(1), 1) as LinearData;
  const w = fitLinear(problem, [part(real, "real")]);
  assert.ok(maxRelDiff(w, problem.wStar) < 1e-10);
  assert.equal(exactTestError(problem, problem.wStar), 0);
});

test("ridge shrinks the fit: ‖ŵ_ridge‖ < ‖ŵ_OLS‖ and matches (XᵀX + λI)⁻¹Xᵀy", () => {
  const ols = makeProblem(3, 10, { ridge: 0 });
  const ridged = makeProblem(3, 10, { ridge: 5 });
  assert.deepEqual(ridged.X, ols.X); // same seed path, same world
  const data = fullData(10, Rng.fromSeed(3));
  const a = fitLinear(ols, [part(data)]);
  const b = fitLinear(ridged, [part(data)]);
  const norm = (w: ArrayLike<number>) => Math.hypot(...Array.from(w));
  assert.ok(norm(b) < norm(a));
  assert.ok(maxRelDiff(b, naiveFit(ridged, [part(data)])) < 1e-9);
});

// ---------------------------------------------------------------------------------------------
// the modality

test("linearModality: real/sample sizes, row cycling, select", () => {
  const problem = makeProblem(2, 5, { sigma2: 0 });
  const m = linearModality(problem);
  const real = m.real!(5, Rng.fromSeed(1), 1) as LinearData;
  assert.equal(real.rows, null);
  assert.equal(m.size(real), 5);
  // noiseless labels are exactly X w*
  for (let t = 0; t < 5; t++) assert.equal(real.y[t], problem.X[2 * t] * problem.wStar[0] + problem.X[2 * t + 1] * problem.wStar[1]);
  const big = m.sample(problem.wStar, 12, Rng.fromSeed(2)) as LinearData;
  assert.deepEqual(Array.from(big.rows!), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]);
  assert.equal(big.y[7], real.y[2]);
  const small = m.sample(problem.wStar, 3, Rng.fromSeed(2)) as LinearData;
  assert.deepEqual(Array.from(small.rows!), [0, 1, 2]);
  const sel = m.select(big, Int32Array.from([11, 5, 2]));
  assert.deepEqual(Array.from(sel.rows!), [1, 0, 2]);
  assert.deepEqual(Array.from(sel.y), [big.y[11], big.y[5], big.y[2]]);
  const selReal = m.select(real, Int32Array.from([4, 0]));
  assert.deepEqual(Array.from(selReal.rows!), [4, 0]);
  assert.deepEqual(Array.from(selReal.y), [real.y[4], real.y[0]]);
  assert.equal(m.name, "linear");
  assert.deepEqual(Object.keys(m.evaluate(problem.wStar, Rng.fromSeed(1))), ["testError"]);
  const withMse = linearModality(makeProblem(2, 5, { testSamples: 10 }));
  assert.deepEqual(Object.keys(withMse.evaluate(problem.wStar, Rng.fromSeed(1))).sort(), ["testError", "testMSE"]);
});

// ---------------------------------------------------------------------------------------------
// (b) codec

test("linearCodec round-trips datasets with and without row indices", () => {
  const samples: LinearData[] = [
    { rows: null, y: Float64Array.from([1.5, -0, 1e-310, -Infinity, NaN, Math.PI]) },
    { rows: Int32Array.from([0, 3, 3, 2147483647, 0]), y: Float64Array.from([0.1, 0.2, 0.30000000000000004, -1e300, 5e-324]) },
    { rows: null, y: new Float64Array(0) },
    { rows: new Int32Array(0), y: new Float64Array(0) },
  ];
  for (const data of samples) {
    const bytes = linearCodec.encode(data);
    assert.equal(bytes.byteLength, 16 + (data.rows ? 4 * data.y.length : 0) + 8 * data.y.length);
    const back = linearCodec.decode(bytes);
    assert.deepEqual(back.rows === null ? null : Array.from(back.rows), data.rows === null ? null : Array.from(data.rows));
    assert.ok(back.y instanceof Float64Array);
    assert.deepEqual(new Uint8Array(back.y.buffer, back.y.byteOffset, back.y.byteLength), new Uint8Array(data.y.buffer, data.y.byteOffset, data.y.byteLength));
    // decoding from a view into a larger buffer (as fs.readFileSync may hand out)
    const padded = new Uint8Array(bytes.byteLength + 11);
    padded.set(bytes, 7);
    const view = padded.subarray(7, 7 + bytes.byteLength);
    const back2 = linearCodec.decode(view);
    assert.deepEqual(Array.from(back2.y), Array.from(back.y));
  }
});

test("linearCodec rejects truncated, padded and foreign bytes with a DataError", () => {
  const bytes = linearCodec.encode({ rows: Int32Array.from([1, 2]), y: Float64Array.from([3, 4]) });
  const cases: [string, Uint8Array, RegExp][] = [
    ["truncated", bytes.subarray(0, bytes.byteLength - 1), /truncated or corrupt/],
    ["header only", bytes.subarray(0, 16), /truncated or corrupt/],
    ["shorter than a header", bytes.subarray(0, 8), /bad magic/],
    ["empty", new Uint8Array(0), /bad magic/],
    ["padded", Uint8Array.from([...bytes, 0]), /truncated or corrupt/],
  ];
  const badMagic = Uint8Array.from(bytes);
  badMagic[0] ^= 0xff;
  cases.push(["bad magic", badMagic, /bad magic/]);
  const json = new TextEncoder().encode(JSON.stringify({ rows: null, y: [1, 2, 3] }));
  cases.push(["json", json, /bad magic/]);
  for (const [what, b, re] of cases) {
    assert.throws(
      () => linearCodec.decode(b),
      (e: unknown) => e instanceof DataError && re.test(e.message),
      what,
    );
  }
});

// ---------------------------------------------------------------------------------------------
// (c) test error

test("exactTestError equals (ŵ − w*)ᵀ Σ (ŵ − w*) computed by hand", () => {
  const problem = createLinearProblem({ d: 2, T: 4, sigma2: 1, ridge: 0, covariance: { matrix: [[2, 0.5], [0.5, 1]] }, testSamples: 0 }, Rng.fromSeed(3));
  const w = Float64Array.from([problem.wStar[0] + 1, problem.wStar[1] - 2]);
  // [1, -2] Σ [1, -2]ᵀ = 2·1 + 2·0.5·1·(−2) + 1·4 = 4
  assert.ok(Math.abs(exactTestError(problem, w) - 4) < 1e-12);
  const w2 = Float64Array.from([problem.wStar[0] + 0.5, problem.wStar[1] + 3]);
  // 2·0.25 + 2·0.5·0.5·3 + 9 = 0.5 + 1.5 + 9 = 11
  assert.ok(Math.abs(exactTestError(problem, w2) - 11) < 1e-12);
  // isotropic: the squared Euclidean distance
  const iso = makeProblem(3, 6);
  const w3 = Float64Array.from(iso.wStar, (v, i) => v + [0.1, -0.2, 0.3][i]);
  assert.ok(Math.abs(exactTestError(iso, w3) - 0.14) < 1e-12);
  // decay covariance: diag spectrum with trace d
  const dec = makeProblem(3, 6, { covariance: { decay: 1 } });
  const lam = [1, 1 / 2, 1 / 3].map((v) => (3 * v) / (1 + 1 / 2 + 1 / 3));
  const w4 = Float64Array.from(dec.wStar, (v, i) => v + [1, 1, 1][i]);
  assert.ok(Math.abs(exactTestError(dec, w4) - lam.reduce((a, b) => a + b, 0)) < 1e-12);
});

test("empiricalTestMse ≈ exactTestError + σ² over many samples", () => {
  for (const [cov, sigma2] of [
    ["isotropic", 1],
    [{ decay: 2 }, 0.25],
    [{ matrix: [[2, 0.5, 0], [0.5, 1, 0.2], [0, 0.2, 0.5]] }, 3],
  ] as [CovarianceSpec, number][]) {
    const problem = makeProblem(3, 8, { covariance: cov, sigma2 });
    const w = Float64Array.from(problem.wStar, (v, i) => v + [0.7, -0.4, 1.1][i]);
    const expected = exactTestError(problem, w) + sigma2;
    const n = 100000;
    const mse = empiricalTestMse(problem, w, n, Rng.fromSeed(99));
    // the residual is N(0, expected), so Var(r²) = 2·expected²
    const se = expected * Math.sqrt(2 / n);
    assert.ok(Math.abs(mse - expected) < 5 * se, `${JSON.stringify(cov)}: mse ${mse} vs ${expected} (se ${se})`);
  }
  const noiseless = makeProblem(3, 8, { sigma2: 0 });
  assert.equal(empiricalTestMse(noiseless, noiseless.wStar, 100, Rng.fromSeed(1)), 0);
});

// ---------------------------------------------------------------------------------------------
// (d) covariance validation


test("covarianceMatrix builds Σ and its Cholesky factor", () => {
  const iso = covarianceMatrix("isotropic", 3);
  assert.deepEqual(Array.from(iso.sigma), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  assert.deepEqual(Array.from(iso.chol), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const dec = covarianceMatrix({ decay: 1.5 }, 4);
  const diag = [0, 1, 2, 3].map((i) => dec.sigma[i * 4 + i]);
  assert.ok(Math.abs(diag.reduce((a, b) => a + b) - 4) < 1e-12, "trace d");
  for (let i = 1; i < 4; i++) assert.ok(Math.abs(diag[i] / diag[0] - Math.pow(i + 1, -1.5)) < 1e-12);
  const flat = covarianceMatrix({ decay: 0 }, 3);
  assert.deepEqual(Array.from(flat.sigma), Array.from(iso.sigma));
  const M = [
    [4, 2, 0.4],
    [2, 3, 0.5],
    [0.4, 0.5, 1],
  ];
  const full = covarianceMatrix({ matrix: M }, 3);
  assert.deepEqual(Array.from(full.sigma), M.flat());
  // L Lᵀ = Σ, L lower-triangular
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      if (j > i) assert.equal(full.chol[i * 3 + j], 0);
      let s = 0;
      for (let k = 0; k < 3; k++) s += full.chol[i * 3 + k] * full.chol[j * 3 + k];
      assert.ok(Math.abs(s - M[i][j]) < 1e-12);
    }
  }
});

test("covarianceMatrix rejects non-symmetric, non-PD and wrong-size matrices, naming the field", () => {
  assert.equal(configErrorField(() => covarianceMatrix({ matrix: [[1, 0.5], [0.4, 1]] }, 2)), "covariance.matrix");
  assert.equal(configErrorField(() => covarianceMatrix({ matrix: [[1, 2], [2, 1]] }, 2)), "covariance");
  assert.equal(configErrorField(() => covarianceMatrix({ matrix: [[1, 0], [0, 0]] }, 2)), "covariance");
  assert.equal(configErrorField(() => covarianceMatrix({ matrix: [[-1, 0], [0, 1]] }, 2)), "covariance");
  assert.equal(configErrorField(() => covarianceMatrix({ matrix: [[1, 0], [0, 1]] }, 3)), "covariance.matrix");
  assert.equal(configErrorField(() => covarianceMatrix({ matrix: [[1, 0, 0], [0, 1], [0, 0, 1]] }, 3)), "covariance.matrix");
  assert.equal(configErrorField(() => covarianceMatrix({ matrix: [] }, 1)), "covariance.matrix");
  assert.equal(configErrorField(() => covarianceMatrix({ matrix: "I" as unknown as number[][] }, 1)), "covariance.matrix");
  assert.equal(configErrorField(() => covarianceMatrix({ matrix: [[1, NaN], [NaN, 1]] }, 2)), "covariance.matrix[0][1]");
  assert.equal(configErrorField(() => covarianceMatrix({ matrix: [[1, 0], ["0" as unknown as number, 1]] }, 2)), "covariance.matrix[1][0]");
  assert.equal(configErrorField(() => covarianceMatrix({ decay: -1 }, 2)), "covariance.decay");
  assert.equal(configErrorField(() => covarianceMatrix({ decay: NaN }, 2)), "covariance.decay");
  assert.equal(configErrorField(() => covarianceMatrix("diagonal" as CovarianceSpec, 2)), "covariance");
  assert.equal(configErrorField(() => covarianceMatrix(null as unknown as CovarianceSpec, 2)), "covariance");
  // a custom field name is used throughout
  assert.equal(configErrorField(() => covarianceMatrix({ matrix: [[1, 2], [2, 1]] }, 2, "settings[3].cov")), "settings[3].cov");
  assert.equal(configErrorField(() => covarianceMatrix({ matrix: [[1, 0.5], [0.4, 1]] }, 2, "x")), "x.matrix");
});

test("covarianceMatrix: a matrix symmetric within its stated tolerance is accepted (symmetric Σ) or a ConfigError, never a raw Error", () => {
  // checkSetting's symmetry test tolerates |Σij − Σji| ≤ 1e-12·(1+|Σij|); 0.1 vs 0.1 + 1e-15 is within it.
  const M = [
    [1, 0.1],
    [0.1 + 1e-15, 1],
  ];
  let result: ReturnType<typeof covarianceMatrix> | null = null;
  try {
    result = covarianceMatrix({ matrix: M }, 2);
  } catch (e) {
    assert.ok(e instanceof ConfigError && e.field.startsWith("covariance"), `expected a ConfigError naming covariance, got ${(e as Error).name}: ${(e as Error).message}`);
  }
  if (result) assert.equal(result.sigma[1], result.sigma[2], "Σ used downstream must be exactly symmetric");
});

// ---------------------------------------------------------------------------------------------
// (e) theory

function relClose(a: number, b: number, tol = 1e-12): boolean {
  return Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b), 1e-300);
}

test("unitError is σ²d/(T−d−1), null for T ≤ d+1", () => {
  assert.equal(unitError(5, 50, 1), 5 / 44);
  assert.equal(unitError(10, 100, 0.1), (0.1 * 10) / 89);
  assert.equal(unitError(3, 5, 1), 3);
  assert.equal(unitError(3, 4, 1), null);
  assert.equal(unitError(3, 3, 1), null);
  assert.equal(unitError(3, 20, 0), 0);
});

test("theoryCurve('replace') = theoryReplace and theoryCurve('accumulate') = theoryAccumulate for n = 1..50", () => {
  for (const [d, T, sigma2] of [
    [5, 50, 1],
    [10, 100, 0.1],
    [3, 20, 10],
    [1, 3, 2],
  ]) {
    const rep = theoryCurve("replace", { d, T, sigma2, iterations: 50 })!;
    const acc = theoryCurve("accumulate", { d, T, sigma2, iterations: 50 })!;
    assert.equal(rep.length, 50);
    assert.equal(acc.length, 50);
    const c = unitError(d, T, sigma2)!;
    for (let n = 1; n <= 50; n++) {
      assert.ok(relClose(rep[n - 1], theoryReplace(n, d, T, sigma2)!), `replace n=${n}: ${rep[n - 1]} vs ${theoryReplace(n, d, T, sigma2)}`);
      assert.ok(relClose(rep[n - 1], c * n));
      assert.ok(relClose(acc[n - 1], theoryAccumulate(n, d, T, sigma2)!), `accumulate n=${n}: ${acc[n - 1]} vs ${theoryAccumulate(n, d, T, sigma2)}`);
      assert.ok(acc[n - 1] < c * (Math.PI ** 2 / 6), `accumulate n=${n} above the π²/6 bound`);
      if (n > 1) assert.ok(acc[n - 1] > acc[n - 2], "accumulate increases");
    }
    // spelled out
    assert.ok(relClose(acc[1], c * 1.25));
    assert.ok(relClose(acc[2], c * (1 + 1 / 4 + 1 / 9)));
  }
  // the bound also holds far out, and is approached
  const long = theoryCurve("accumulate", { d: 5, T: 50, sigma2: 1, iterations: 400 })!;
  const c = unitError(5, 50, 1)!;
  assert.ok(long[399] < c * (Math.PI ** 2 / 6));
  assert.ok(long[399] > c * (Math.PI ** 2 / 6 - 1 / 399));
  assert.ok(relClose(theoryAccumulate(400, 5, 50, 1)!, long[399]));
  assert.equal(theoryReplace(3, 3, 4, 1), null);
  assert.equal(theoryAccumulate(3, 3, 4, 1), null);
});

test("theoryCurve returns null where no closed form exists", () => {
  const base = { d: 5, T: 50, sigma2: 1, iterations: 5 };
  assert.equal(theoryCurve("accumulate-subsample", base), null);
  for (const s of STRATEGIES) {
    assert.equal(theoryCurve(s, { ...base, ridge: 0.1 }), null, `${s} ridge`);
    assert.equal(theoryCurve(s, { ...base, T: 6 }), null, `${s} T = d+1`);
    assert.equal(theoryCurve(s, { ...base, T: 5 }), null, `${s} T = d`);
    assert.equal(theoryCurve(s, { ...base, syntheticScale: 1.5 }), null, `${s} fractional synthetic`);
    assert.equal(theoryCurve(s, { ...base, freshRealScale: 0.5 }), null, `${s} fractional fresh`);
    assert.equal(theoryCurve(s, { ...base, syntheticScale: 0 }), null, `${s} zero synthetic`);
  }
  for (const s of STRATEGIES.filter((x) => x !== "accumulate-subsample")) {
    assert.notEqual(theoryCurve(s, { ...base, ridge: 0 }), null, s);
    assert.notEqual(theoryCurve(s, { ...base, T: 7 }), null, s);
  }
});

test("theoryCurve('replace-multiple') = c·H_n and theoryCurve('augment') → 4c/3", () => {
  const c = unitError(5, 50, 1)!;
  const rm = theoryCurve("replace-multiple", { d: 5, T: 50, sigma2: 1, iterations: 60 })!;
  let H = 0;
  for (let n = 1; n <= 60; n++) {
    H += 1 / n;
    assert.ok(relClose(rm[n - 1], c * H), `replace-multiple n=${n}: ${rm[n - 1]} vs ${c * H}`);
  }
  const aug = theoryCurve("augment", { d: 5, T: 50, sigma2: 1, iterations: 60 })!;
  for (let n = 1; n <= 60; n++) {
    // e_n = η₀ + Σ_{j=1}^{n-1} 2^{-j} ξ_{n+1-j}: c·(1 + Σ 4^{-j}) = c·(4/3 − 4^{1-n}/3)
    const exact = c * (4 / 3 - Math.pow(4, 1 - n) / 3);
    assert.ok(relClose(aug[n - 1], exact), `augment n=${n}: ${aug[n - 1]} vs ${exact}`);
  }
  assert.ok(relClose(aug[59], (4 * c) / 3));
  assert.equal(aug[0], c);
});

test("theoryCurve with larger synthetic sets and fresh real data (hand-derived)", () => {
  const c = unitError(4, 30, 2)!;
  const base = { d: 4, T: 30, sigma2: 2, iterations: 3 };
  // accumulate, 2 synthetic copies per model: model 2 = (η₀ + 2(η₀) + noise of 2 copies)/3 → 1 + 2/9
  const acc2 = theoryCurve("accumulate", { ...base, syntheticScale: 2 })!;
  assert.ok(relClose(acc2[0], c));
  assert.ok(relClose(acc2[1], c * (1 + 2 / 9)));
  // replace with one fresh real copy per iteration: model 2 = (η₀ + ξ + φ)/2 → 3/4
  const repF = theoryCurve("replace", { ...base, freshRealScale: 1 })!;
  assert.ok(relClose(repF[1], c * 0.75));
  // model 3 = (e₂ + ξ' + φ')/2 → (3/4 + 1 + 1)/4 = 11/16
  assert.ok(relClose(repF[2], (c * 11) / 16));
  // accumulate with fresh real: model 2 trains on η₀, φ₂, and model 1's copy (η₀ + ξ₁): (2η₀ + φ + ξ)/3 → (4+1+1)/9
  const accF = theoryCurve("accumulate", { ...base, freshRealScale: 1 })!;
  assert.ok(relClose(accF[1], (c * 6) / 9));
  // scale 1 is the default
  assert.deepEqual(theoryCurve("replace", { ...base, syntheticScale: 1, freshRealScale: 0, ridge: 0 }), theoryCurve("replace", base));
});
