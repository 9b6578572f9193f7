import type { Strategy } from "../collapse/strategies";

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
