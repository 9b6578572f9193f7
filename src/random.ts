import * as prand from "pure-rand";

/**
 * A seeded random source. Every random draw in the kit comes from an explicit `Rng`; nothing touches
 * `Math.random`. Streams for different purposes are *derived* from (seed, path) rather than split off a
 * shared generator, so that the draws of one part of an experiment never depend on how many draws
 * another part made: iteration 7's synthetic sample is the same whether the run started at iteration 1
 * or resumed at iteration 6.
 */
/** A generator's whole state, as JSON holds it (see Rng.state). */
export interface RngState {
  gen: number[];
  spare: number | null;
}

export class Rng {
  private spare: number | null = null;

  private constructor(private gen: prand.RandomGenerator) {}

  /** A generator seeded with a 32-bit integer. */
  static fromSeed(seed: number): Rng {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    return new Rng(prand.xoroshiro128plus(seed | 0));
  }

  /** The stream for a named purpose, e.g. `Rng.derive(seed, "sample", iteration)`. */
  static derive(seed: number, ...path: readonly (string | number)[]): Rng {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    return new Rng(prand.xoroshiro128plus(hashPath([seed, ...path])));
  }

  /** The generator's whole state, as JSON can hold it (a mid-fit checkpoint keeps it; see `fromState`). */
  state(): RngState {
    return { gen: [...(this.gen.getState?.() ?? [])], spare: this.spare };
  }

  /** The generator `state()` described, drawing exactly what it would have drawn next. */
  static fromState(state: RngState): Rng {
    const rng = new Rng(prand.xoroshiro128plus.fromState(state.gen));
    rng.spare = state.spare;
    return rng;
  }

  /** Puts this generator back to `state()` (in place, for holders of a reference to it). */
  restore(state: RngState): void {
    const from = Rng.fromState(state);
    this.gen = from.gen;
    this.spare = state.spare;
  }

  /** A child stream of this one, for handing to a callee that draws an unknown amount. */
  fork(...path: readonly (string | number)[]): Rng {
    return new Rng(prand.xoroshiro128plus(hashPath([this.nextInt32(), ...path])));
  }

  private nextInt32(): number {
    return this.gen.unsafeNext();
  }

  /** Uniform on [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextInt32() >>> 5; // 27 bits
    const lo = this.nextInt32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer on [0, n). */
  int(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`int(n) needs a positive integer, got ${n}`);
    return prand.unsafeUniformIntDistribution(0, n - 1, this.gen);
  }

  /** Standard normal draw (Marsaglia's polar method; the second variate is kept for the next call). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const f = Math.sqrt((-2 * Math.log(s)) / s);
        this.spare = v * f;
        return u * f;
      }
    }
  }

  /** `n` independent N(0, std²) draws. */
  normals(n: number, std = 1): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = std * this.normal();
    return out;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** `k` distinct indices from 0..n-1, in increasing order. */
  choose(n: number, k: number): Int32Array {
    if (k > n) throw new RangeError(`cannot choose ${k} of ${n} without replacement`);
    // Floyd's algorithm: k draws, no O(n) permutation.
    const picked = new Set<number>();
    for (let j = n - k; j < n; j++) {
      const t = this.int(j + 1);
      picked.add(picked.has(t) ? j : t);
    }
    return Int32Array.from(picked).sort();
  }
}

/** 32-bit hash of a path of seeds and labels (cyrb53's mixing, folded to 32 bits). */
function hashPath(path: readonly (string | number)[]): number {
  const text = path.map(String).join("\u0000");
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h1 ^ h2) | 0;
}

/** An integer seed for a named sub-experiment, e.g. `deriveSeed(seed, "linear", d, T, repeat)`. */
export function deriveSeed(seed: number, ...path: readonly (string | number)[]): number {
  return hashPath([seed, ...path]) >>> 1;
}
