import type { SequenceKind } from "../src/experiments/sequences";
import { runGaussianSequence } from "../src/gaussian/modality";

/**
 * A sequence kind defined outside src/, for the test that any module exporting a SequenceKind runs
 * in the parallel runner's workers with no registration anywhere else.
 */
export interface ToyConfig {
  iterations: number;
  seed: number;
}

export const TOY_SEQUENCES: SequenceKind<ToyConfig, { pid: number; records: unknown[] }> = {
  entry: { module: __filename, exportName: "TOY_SEQUENCES" },
  check(c) {
    if (!Number.isInteger(c.seed)) throw new Error("seed");
  },
  async run(c, opts) {
    opts.onStatus?.(`toy sequence in process ${process.pid}`);
    const r = await runGaussianSequence({ dim: 2, samples: 20, iterations: c.iterations, seed: c.seed, referenceSize: 50, strategy: "accumulate" });
    for (const rec of r.records) opts.onIteration?.(rec);
    return { pid: process.pid, records: r.records.map((x) => ({ ...x, seconds: 0 })) };
  },
  finishedIterations: () => 0,
  cost: (c) => c.iterations,
  describe: (c) => `toy seed ${c.seed}`,
};
