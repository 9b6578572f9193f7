import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng, deriveSeed } from "../src/random";

function draws(rng: Rng, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(rng.uniform(), rng.normal(), rng.int(1000));
  return out;
}

test("same seed gives identical streams (fromSeed, derive, fork)", () => {
  assert.deepEqual(draws(Rng.fromSeed(42), 200), draws(Rng.fromSeed(42), 200));
  assert.deepEqual(draws(Rng.derive(42, "sample", 3), 200), draws(Rng.derive(42, "sample", 3), 200));
  assert.deepEqual(draws(Rng.fromSeed(7).fork("x"), 50), draws(Rng.fromSeed(7).fork("x"), 50));
  assert.notDeepEqual(draws(Rng.fromSeed(42), 20), draws(Rng.fromSeed(43), 20));
  assert.notDeepEqual(draws(Rng.derive(42, "a"), 20), draws(Rng.derive(43, "a"), 20));
  // normals(n) is n successive normal() draws
  const a = Rng.fromSeed(5);
  const b = Rng.fromSeed(5);
  const ns = a.normals(11, 2);
  for (let i = 0; i < 11; i++) assert.equal(ns[i], 2 * b.normal());
});

test("Rng.derive(seed, path) does not depend on draws made elsewhere", () => {
  const reference = draws(Rng.derive(9, "sample", 4), 100);
  // Draw a lot from other streams (derived and seeded), interleaving with the stream under test.
  const other = Rng.derive(9, "sample", 3);
  const seeded = Rng.fromSeed(9);
  for (let i = 0; i < 5000; i++) other.normal();
  for (let i = 0; i < 777; i++) seeded.uniform();
  const again = Rng.derive(9, "sample", 4);
  const interleaved: number[] = [];
  for (let i = 0; i < 100; i++) {
    interleaved.push(again.uniform());
    other.uniform();
    interleaved.push(again.normal());
    seeded.normal();
    interleaved.push(again.int(1000));
  }
  assert.deepEqual(interleaved, reference);
});

test("different derive paths give different streams", () => {
  const paths: (string | number)[][] = [["sample", 1], ["sample", 2], ["fit", 1], ["sample1"], ["sample", 1, 0], [], ["1", "sample"]];
  const firsts = paths.map((p) => draws(Rng.derive(3, ...p), 5).join(","));
  assert.equal(new Set(firsts).size, paths.length);
  // a derived stream differs from the plainly seeded one
  assert.notDeepEqual(draws(Rng.derive(3), 5), draws(Rng.fromSeed(3), 5));
  // forks with different labels differ; forking advances the parent
  const p1 = Rng.fromSeed(1);
  const p2 = Rng.fromSeed(1);
  assert.notDeepEqual(draws(p1.fork("a"), 5), draws(p2.fork("b"), 5));
  const p3 = Rng.fromSeed(1);
  assert.notDeepEqual(draws(p3.fork("a"), 5), draws(p3.fork("a"), 5));
});

test("uniform is in [0,1) with a plausible mean and no repeats", () => {
  const rng = Rng.fromSeed(123);
  const n = 20000;
  let sum = 0;
  let min = 1;
  let max = 0;
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    assert.ok(u >= 0 && u < 1, `uniform out of range: ${u}`);
    sum += u;
    min = Math.min(min, u);
    max = Math.max(max, u);
    seen.add(u);
  }
  const mean = sum / n;
  // var of U(0,1) = 1/12; 5 sigma
  assert.ok(Math.abs(mean - 0.5) < 5 * Math.sqrt(1 / 12 / n), `mean ${mean}`);
  assert.ok(min < 0.001 && max > 0.999, `range [${min}, ${max}]`);
  assert.equal(seen.size, n);
});

test("normal has mean ≈ 0 and variance ≈ 1 over 20k draws (5 sigma)", () => {
  const rng = Rng.derive(2024, "normal-test");
  const n = 20000;
  let s1 = 0;
  let s2 = 0;
  let s4 = 0;
  for (let i = 0; i < n; i++) {
    const z = rng.normal();
    assert.ok(Number.isFinite(z));
    s1 += z;
    s2 += z * z;
    s4 += z ** 4;
  }
  const mean = s1 / n;
  const variance = s2 / n - mean * mean;
  assert.ok(Math.abs(mean) < 5 / Math.sqrt(n), `mean ${mean}`);
  // Var(z²) = 2 for a standard normal
  assert.ok(Math.abs(variance - 1) < 5 * Math.sqrt(2 / n), `variance ${variance}`);
  // kurtosis 3, Var(z⁴) = 96
  assert.ok(Math.abs(s4 / n - 3) < 5 * Math.sqrt(96 / n), `fourth moment ${s4 / n}`);
});

test("int(n) stays in [0, n) and hits every value; bad n throws", () => {
  const rng = Rng.fromSeed(77);
  for (const n of [1, 2, 7, 1000]) {
    const counts = new Array(n).fill(0);
    const draws = Math.max(50 * n, 100);
    for (let i = 0; i < draws; i++) {
      const v = rng.int(n);
      assert.ok(Number.isInteger(v) && v >= 0 && v < n, `int(${n}) gave ${v}`);
      counts[v]++;
    }
    assert.ok(counts.every((c) => c > 0), `int(${n}) missed a value`);
  }
  assert.equal(Rng.fromSeed(1).int(1), 0);
  for (const bad of [0, -3, 2.5, NaN]) assert.throws(() => rng.int(bad), RangeError);
});

test("permutation(n) is a permutation of 0..n-1 and is not always the identity", () => {
  const rng = Rng.fromSeed(11);
  for (const n of [0, 1, 2, 5, 100]) {
    const p = rng.permutation(n);
    assert.ok(p instanceof Int32Array);
    assert.equal(p.length, n);
    assert.deepEqual(Array.from(p).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
  }
  const p = rng.permutation(100);
  assert.ok(Array.from(p).some((v, i) => v !== i));
  // every position receives every value over many permutations of 4
  const hits = Array.from({ length: 4 }, () => new Array(4).fill(0));
  for (let r = 0; r < 800; r++) rng.permutation(4).forEach((v, i) => hits[i][v]++);
  for (const row of hits) for (const h of row) assert.ok(h > 100 && h < 300, `position/value count ${h}`);
});

test("choose(n, k) gives k distinct sorted indices in range; k > n throws", () => {
  const rng = Rng.fromSeed(5);
  for (const [n, k] of [
    [10, 0],
    [10, 1],
    [10, 5],
    [10, 10],
    [1000, 999],
    [1000, 3],
    [1, 1],
  ]) {
    for (let r = 0; r < 20; r++) {
      const c = rng.choose(n, k);
      assert.ok(c instanceof Int32Array);
      assert.equal(c.length, k);
      for (let i = 0; i < k; i++) {
        assert.ok(c[i] >= 0 && c[i] < n, `choose(${n},${k}) gave ${c[i]}`);
        if (i > 0) assert.ok(c[i] > c[i - 1], `choose(${n},${k}) not strictly increasing: ${Array.from(c)}`);
      }
    }
  }
  // numeric (not lexicographic) order
  assert.deepEqual(Array.from(rng.choose(20, 20)), Array.from({ length: 20 }, (_, i) => i));
  // roughly uniform inclusion: each of 10 items is picked with prob 3/10
  const counts = new Array(10).fill(0);
  for (let r = 0; r < 5000; r++) for (const i of rng.choose(10, 3)) counts[i]++;
  for (const c of counts) assert.ok(Math.abs(c - 1500) < 5 * Math.sqrt(5000 * 0.3 * 0.7), `inclusion count ${c}`);
  assert.throws(() => rng.choose(3, 4), RangeError);
  assert.throws(() => rng.choose(0, 1), RangeError);
  // deterministic under the seed
  assert.deepEqual(Rng.fromSeed(8).choose(50, 7), Rng.fromSeed(8).choose(50, 7));
});

test("seeds must be integers", () => {
  assert.throws(() => Rng.fromSeed(1.5), RangeError);
  assert.throws(() => Rng.derive(NaN, "x"), RangeError);
});

test("deriveSeed is deterministic, non-negative and 31-bit", () => {
  assert.equal(deriveSeed(0, "linear", 5, 50, 1, 0), deriveSeed(0, "linear", 5, 50, 1, 0));
  const seen = new Set<number>();
  for (let s = 0; s < 2000; s++) {
    for (const seed of [0, 1, 2 ** 31 - 1, -5]) {
      const v = deriveSeed(seed, "linear", s);
      assert.ok(Number.isSafeInteger(v) && v >= 0 && v <= 2 ** 31 - 1, `deriveSeed gave ${v}`);
      seen.add(v);
    }
  }
  // collisions among 8000 draws from 2^31 are rare (expected ≈ 0.015)
  assert.ok(seen.size >= 7998, `too many collisions: ${8000 - seen.size}`);
  assert.notEqual(deriveSeed(0, "a"), deriveSeed(0, "b"));
  assert.notEqual(deriveSeed(0, "a"), deriveSeed(1, "a"));
  // the derived seed is a valid seed for both constructors
  const v = deriveSeed(99, "x");
  assert.deepEqual(draws(Rng.fromSeed(v), 3), draws(Rng.fromSeed(v), 3));
});
