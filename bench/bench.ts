/**
 * `npm run bench`: one JSON line per benchmark on stdout. Speed targets live here, not in tests.
 * Usage: node dist/bench/bench.js [--only NAME[,NAME]] [--repeats K]
 */
import { parseArgs } from "node:util";
import { Matrix, pseudoInverse } from "ml-matrix";
import { environmentInfo } from "../src/environment";
import { section2Config } from "../src/experiments/linearRegression";
import { type LinearData, fitLinear } from "../src/linear/modality";
import { runLinearExperiment } from "../src/linear/montecarlo";
import { createLinearProblem } from "../src/linear/problem";
import { Rng } from "../src/random";
import type { Part } from "../src/collapse/strategies";

interface Bench {
  name: string;
  run(): Promise<Record<string, number | string>>;
}

async function timed<T>(f: () => Promise<T> | T): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { seconds: (performance.now() - t0) / 1000, value };
}

const BENCHES: Bench[] = [
  {
    // The Figure 2/9 Monte-Carlo workload at the paper's size for one setting.
    name: "linear-fig2-montecarlo",
    async run() {
      const { seconds } = await timed(() =>
        runLinearExperiment({ settings: [{ d: 10, T: 100, sigma2: 1 }], strategies: ["replace", "accumulate"], iterations: 100, seeds: 100 }),
      );
      const sequences = 2 * 100;
      return { d: 10, T: 100, sigma2: 1, iterations: 100, seeds: 100, strategies: "replace,accumulate", seconds, fitsPerSecond: (sequences * 100) / seconds };
    },
  },
  {
    // Accumulate's fit at iteration n on nT stacked rows: per-row counts + cached eigenbasis vs the naive pseudo-inverse.
    name: "linear-accumulate-fit-fast-vs-naive",
    async run() {
      const d = 10;
      const T = 100;
      const n = 50;
      const rng = Rng.fromSeed(1);
      const problem = createLinearProblem({ d, T, sigma2: 1, ridge: 0, covariance: "isotropic", testSamples: 0 }, rng);
      const parts: Part<LinearData>[] = Array.from({ length: n }, (_, i) => ({ data: { rows: null, y: rng.normals(T) }, origin: i === 0 ? "real" : "synthetic", generation: i + 1 }));
      const reps = 200;
      const fast = await timed(() => {
        for (let r = 0; r < reps; r++) fitLinear(problem, parts);
      });
      const naive = await timed(() => {
        const Z = new Matrix(n * T, d);
        const y = new Matrix(n * T, 1);
        parts.forEach((p, i) => {
          for (let t = 0; t < T; t++) {
            for (let j = 0; j < d; j++) Z.set(i * T + t, j, problem.X[t * d + j]);
            y.set(i * T + t, 0, p.data.y[t]);
          }
        });
        return pseudoInverse(Z).mmul(y);
      });
      return { d, T, n, fastSecondsPerFit: fast.seconds / reps, naiveSecondsPerFit: naive.seconds, speedup: naive.seconds / (fast.seconds / reps) };
    },
  },
  {
    name: "linear-quick-profile",
    async run() {
      const config = section2Config("quick");
      const { seconds } = await timed(() => runLinearExperiment(config));
      return { settings: config.settings.length, strategies: config.strategies.join(","), iterations: config.iterations, seeds: config.seeds, seconds };
    },
  },
];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: "string" }, repeats: { type: "string" } } });
  const only = values.only?.split(",");
  const repeats = Number(values.repeats ?? 3);
  const env = environmentInfo();
  for (const b of BENCHES) {
    if (only && !only.includes(b.name)) continue;
    const runs: Record<string, number | string>[] = [];
    for (let r = 0; r < repeats; r++) runs.push(await b.run());
    // Report the fastest repeat: the least disturbed by other load on the machine.
    const best = runs.reduce((a, c) => (Number(c.seconds ?? c.fastSecondsPerFit) < Number(a.seconds ?? a.fastSecondsPerFit) ? c : a));
    console.log(JSON.stringify({ bench: b.name, repeats, ...best, node: env.node, cpu: env.cpuModel }));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
