import type { DataCodec, Modality } from "../src/collapse/modality";
import { type ModalitySpec, type SequenceResult, growingSetCost } from "../src/collapse/spec";
import { sequenceSetup } from "../src/collapse/runSequence";
import { STRATEGIES, type Strategy } from "../src/collapse/strategies";
import { ConfigError, checkInt, checkKnownKeys, checkOneOf } from "../src/errors";

/**
 * A modality defined in one file outside src/ (a die with `faces` sides, refit by add-½ counts): the
 * test that a new modality plugs into the CLI, sweeps, `collapse reproduce`, the live runner and the
 * worker processes through its spec and one registerModality line, touching no other file.
 */
export interface DieConfig {
  faces: number;
  rolls: number;
  strategy: Strategy;
  iterations: number;
  seed: number;
}

type Rolls = Int32Array;
type Die = Float64Array;

const codec: DataCodec<Rolls> = {
  encode: (d) => new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)),
  decode: (b) => new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)),
};

function dieModality(faces: number): Modality<Rolls, Die> {
  // The truth: face k has weight k + 1.
  const truth = Float64Array.from({ length: faces }, (_, k) => (2 * (k + 1)) / (faces * (faces + 1)));
  const roll = (p: Die, n: number, u: () => number) =>
    Int32Array.from({ length: n }, () => {
      let x = u();
      for (let k = 0; k < p.length - 1; k++) if ((x -= p[k]) < 0) return k;
      return p.length - 1;
    });
  return {
    name: "die",
    size: (d) => d.length,
    select: (d, idx) => Int32Array.from(idx, (i) => d[i]),
    real: (n, rng) => roll(truth, n, () => rng.uniform()),
    fit(parts) {
      const counts = new Float64Array(faces).fill(0.5);
      for (const p of parts) for (const k of p.data) counts[k]++;
      const total = counts.reduce((s, c) => s + c, 0);
      return counts.map((c) => c / total);
    },
    sample: (p, n, rng) => roll(p, n, () => rng.uniform()),
    evaluate: (p) => ({ klFromTruth: truth.reduce((s, t, k) => s + t * Math.log(t / p[k]), 0) }),
    codec,
  };
}

export const DIE: ModalitySpec<DieConfig, SequenceResult<DieConfig>, null, { faces: number }, null> = {
  name: "die",
  brief: "a toy die refit on its own rolls",
  summary: "fit one sequence of dice, each on the rolls of the dice before it",
  entry: { module: __filename, exportName: "DIE" },
  profiles: {
    smoke: { faces: 6, rolls: 40, strategy: "replace", iterations: 4, seed: 0 },
    quick: { faces: 6, rolls: 200, strategy: "replace", iterations: 20, seed: 0 },
    medium: { faces: 10, rolls: 500, strategy: "replace", iterations: 50, seed: 0 },
    paper: { faces: 20, rolls: 1000, strategy: "replace", iterations: 100, seed: 0 },
  },
  describe: (c) => `${c.faces} faces, ${c.rolls} rolls, ${c.iterations} iterations`,
  label: (c) => `die · ${c.strategy} · seed ${c.seed}`,
  flags: [
    { flag: "faces", field: "faces", type: "int", help: ["K", "sides of the die"] },
    { flag: "rolls", field: "rolls", type: "int", help: ["N", "real rolls; every synthetic set has as many"] },
  ],
  check(c) {
    if (typeof c !== "object" || c === null) throw new ConfigError("config", "expected an object");
    checkKnownKeys("", c, ["faces", "rolls", "strategy", "iterations", "seed"]);
    checkInt("faces", c.faces, { min: 2 });
    checkInt("rolls", c.rolls, { min: 1 });
    checkOneOf("strategy", c.strategy, STRATEGIES);
    checkInt("iterations", c.iterations, { min: 1 });
    checkInt("seed", c.seed, { min: 0 });
  },
  tensors: false,
  stored: true,
  runKey: ({ iterations: _iterations, ...key }) => key,
  load: async () => null,
  async setup(c, _loaded, ctx) {
    ctx.status(`die in process ${process.pid}`);
    return sequenceSetup({ modality: dieModality(c.faces), loop: { strategy: c.strategy, iterations: c.iterations, realSize: c.rolls }, facts: { faces: c.faces }, extras: null });
  },
  result: (base) => base,
  cost: (c, finished) => growingSetCost(c.strategy, c.iterations, finished, () => c.rolls),
  metrics: [{ key: "klFromTruth", label: "KL from the true die", digits: 4 }],
  sizeUnit: "rolls",
};
