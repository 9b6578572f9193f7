/**
 * `npm run bench`: one JSON line per benchmark on stdout. Speed targets live here, not in tests.
 * Usage: node dist/bench/bench.js [--only NAME[,NAME]] [--repeats K] [--backends tensorflow,wasm,cpu] [--pytorch FILE]
 * The neural benchmarks run on every installed backend (or --backends) and end with a side-by-side
 * table on stderr; --pytorch FILE (from bench/torch_reference.py) adds the ratio to PyTorch.
 */
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { Matrix, pseudoInverse } from "ml-matrix";
import { type BackendName, availableBackends, selectBackend } from "../src/backend";
import { loadMoleculeData, moleculeBaseConfig } from "../src/index";
import { loadVaeData, vaeBaseConfig } from "../src/index";
import { checkDiffusionConfig, checkMoleculeTrainConfig, trainDiffusion } from "../src/molecules/diffusion";
import { checkEgnnConfig, initEgnn } from "../src/molecules/egnn";
import { checkVaeConfig, vaeInit } from "../src/vae/model";
import { checkVaeTrainConfig, trainVae } from "../src/vae/train";
import { environmentInfo } from "../src/environment";
import { lmConfig } from "../src/lm/configs";
import { initParams } from "../src/lm/model";
import { checkSamplingConfig, sampleDocuments } from "../src/lm/sample";
import { checkTrainConfig, train } from "../src/lm/train";
import type { LmConfig } from "../src/lm/types";
import { EOT_ID } from "../src/text/bpe";
import { section2Config } from "../src/experiments/linearRegression";
import { type LinearData, fitLinear } from "../src/linear/modality";
import { runLinearExperiment } from "../src/linear/montecarlo";
import { createLinearProblem } from "../src/linear/problem";
import { Rng } from "../src/random";
import type { Part } from "../src/collapse/strategies";
import { disposeParams } from "../src/nn/params";

interface Bench {
  name: string;
  /** Default repeats (best of); `--repeats` overrides it. */
  repeats?: number;
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

/**
 * The neural benchmarks, each run on every installed backend (or those of --backends) in one go. The
 * plain-JS cpu backend is 10-50× slower, so it does less work (its warm-up and timed lengths are
 * smaller); rates are per token or per step, so they still compare.
 */
interface NeuralBench {
  name: string;
  unit: "tokens/s" | "steps/s";
  /** The PyTorch reference row it compares with (bench/torch_reference.py), if any. */
  pytorch?: { model: string; kind: "train" | "sample" };
  /** The backends it runs on (default: all). */
  backends?: readonly BackendName[];
  run(backend: BackendName): Promise<{ rate: number } & Record<string, number | string>>;
}

const lmBenches = (name: "gpt2-quick-s" | "llama2-quick"): NeuralBench[] => [
  {
    // AdamW steps on 16 × 256 tokens (the quick models' full context): 20 timed (2 on cpu) in a fresh
    // fit after a 3-step warm-up fit, so that the timed fit is what every fit of a sequence costs (on
    // the native backend: one traced step, then the compiled graph).
    name: `lm-train-${name}`,
    unit: "tokens/s",
    pytorch: { model: name, kind: "train" },
    async run(backend) {
      const model = lmConfig(name);
      const t = backend === "cpu" ? await lmTrainThroughput(model, 16, 256, 1, 2, 1) : await lmTrainThroughput(model, 16, 256, 20);
      return { model: name, vocabSize: model.vocabSize, batch: 16, sequence: 256, steps: t.steps, tokens: t.tokens, seconds: t.seconds, rate: t.tokens / t.seconds };
    },
  },
  {
    // KV-cached sampling of 100 documents of up to 200 tokens (random weights, so most run to the
    // limit); every decoded position counts. cpu decodes 20 positions (attention over a short cache
    // is cheaper, so its rate is an upper bound for 200).
    name: `lm-sample-${name}`,
    unit: "tokens/s",
    pytorch: { model: name, kind: "sample" },
    async run(backend) {
      const model = lmConfig(name);
      const maxTokens = backend === "cpu" ? 20 : 200;
      const t = await lmSampleThroughput(model, 100, maxTokens);
      return { model: name, vocabSize: model.vocabSize, documents: 100, maxTokens, steps: t.steps, tokens: t.tokens, seconds: t.seconds, rate: t.tokens / t.seconds };
    },
  },
];

const NEURAL: NeuralBench[] = [
  ...lmBenches("gpt2-quick-s"), // the 64-wide GPT-2, the same width as llama2-quick
  ...lmBenches("llama2-quick"),
  {
    // The paper's GPT-2 (8.9M parameters, vocabulary 8000) at batch 8 × 512: 4 timed AdamW steps in a
    // fresh fit after a 3-step warm-up fit. Native backends only: on wasm the step's tape outgrows
    // the 4 GB heap that tfjs-backend-wasm can address and the module aborts; on cpu one step takes
    // minutes.
    name: "lm-train-gpt2-9m",
    unit: "tokens/s",
    pytorch: { model: "gpt2-9m", kind: "train" },
    backends: ["tensorflow"],
    async run() {
      const model = lmConfig("gpt2-9m");
      const t = await lmTrainThroughput(model, 8, 512, 4, 8, 3);
      return { model: "gpt2-9m", vocabSize: model.vocabSize, batch: 8, sequence: 512, steps: t.steps, tokens: t.tokens, seconds: t.seconds, rate: t.tokens / t.seconds };
    },
  },
  {
    // The quick §3.3 VAE's optimizer steps (batch 16 of 32×32 faces) in a fresh fit after a 3-step warm-up fit.
    name: "vae-train-quick",
    unit: "steps/s",
    async run(backend) {
      const base = vaeBaseConfig("quick");
      const data = await loadVaeData(base);
      const model = checkVaeConfig({ ...base.model, imageSize: base.imageSize });
      const train = checkVaeTrainConfig(base.train ?? {});
      const params = vaeInit(model, Rng.fromSeed(3));
      const steps = backend === "cpu" ? 3 : 40;
      try {
        await trainVae(model, params, data.train, { ...train, maxSteps: 3 }, Rng.fromSeed(4));
        const r = await trainVae(model, params, data.train, { ...train, maxSteps: steps }, Rng.fromSeed(5));
        return { imageSize: base.imageSize, batch: train.batchSize, steps: r.steps, seconds: r.seconds, rate: r.steps / r.seconds };
      } finally {
        disposeParams(params);
      }
    },
  },
  {
    // The quick §3.2 EGNN denoiser's optimizer steps (batch 16 conformers) in a fresh fit after a warm-up
    // fit (20 steps; on cpu 2): batches differ in atoms and edges, padded to a few sizes each compiled once.
    name: "egnn-train-quick",
    unit: "steps/s",
    async run(backend) {
      const base = moleculeBaseConfig("quick");
      const { train: set } = await loadMoleculeData(base);
      const model = checkEgnnConfig(base.model ?? {});
      const diffusion = checkDiffusionConfig(base.diffusion ?? {});
      const train = checkMoleculeTrainConfig({ ...base.train, epochs: 0 });
      const params = initEgnn(model, Rng.fromSeed(6));
      const steps = backend === "cpu" ? 5 : 60;
      try {
        await trainDiffusion(model, diffusion, params, set, { ...train, steps: backend === "cpu" ? 2 : 20 }, Rng.fromSeed(7));
        const { seconds } = await timed(() => trainDiffusion(model, diffusion, params, set, { ...train, steps }, Rng.fromSeed(8)));
        return { batch: train.batchSize, steps, seconds, rate: steps / seconds };
      } finally {
        disposeParams(params);
      }
    },
  },
];

interface Throughput {
  steps: number;
  tokens: number;
  seconds: number;
}

/** Training tokens per second: a fit of `steps` timed optimizer steps after an untimed warm-up fit of `warmUpSteps` steps (of `warmUpBatch` sequences). */
async function lmTrainThroughput(model: LmConfig, batch: number, sequence: number, steps: number, warmUpBatch = batch, warmUpSteps = 3): Promise<Throughput> {
  const rng = Rng.fromSeed(1);
  const params = initParams(model, rng.fork("init"));
  // Token values do not change the work; random windows of sequence + 1 tokens, enough for `steps` batches.
  const windows = Array.from({ length: steps * batch }, () => Int32Array.from({ length: sequence + 1 }, () => rng.int(model.vocabSize)));
  const c = checkTrainConfig({ batchSize: batch, sequenceLength: sequence }, model);
  try {
    await train(model, params, windows, [], { ...c, batchSize: warmUpBatch, maxSteps: warmUpSteps }, rng.fork("warm-up"));
    const r = await train(model, params, windows, [], { ...c, maxSteps: steps }, rng.fork("timed"));
    return { steps: r.steps, tokens: r.tokens, seconds: r.seconds };
  } finally {
    disposeParams(params);
  }
}

/** Sampling tokens per second: one batch of `batch` documents of up to `maxTokens`, after a short warm-up batch. */
async function lmSampleThroughput(model: LmConfig, batch: number, maxTokens: number): Promise<Throughput> {
  const rng = Rng.fromSeed(2);
  const params = initParams(model, rng.fork("init"));
  const c = checkSamplingConfig({ batchSize: batch, maxTokens }, model);
  try {
    await sampleDocuments(model, params, EOT_ID, batch, { ...c, maxTokens: 2 }, rng.fork("warm-up"));
    const { seconds, value: docs } = await timed(() => sampleDocuments(model, params, EOT_ID, batch, c, rng.fork("timed")));
    // A document decodes until it ends (its end token is one more decoded position) and then leaves the
    // batch, so the tokens are the sum over documents; the steps are those of the longest.
    const decoded = docs.map((d) => (d.length < maxTokens ? d.length + 1 : d.length));
    return { steps: Math.max(...decoded), tokens: decoded.reduce((s, n) => s + n, 0), seconds };
  } finally {
    disposeParams(params);
  }
}

interface PytorchRow {
  model: string;
  kind: string;
  tokensPerSecond: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: "string" }, repeats: { type: "string" }, backends: { type: "string" }, pytorch: { type: "string" } } });
  const only = values.only?.split(",");
  const env = environmentInfo();
  const known = [...BENCHES.map((b) => b.name), ...NEURAL.map((b) => b.name)];
  for (const name of only ?? []) {
    if (!known.includes(name)) {
      console.error(`bench: --only: unknown benchmark ${JSON.stringify(name)} (known: ${known.join(", ")})`);
      process.exit(2);
    }
  }
  let pytorch: PytorchRow[] = [];
  if (values.pytorch) {
    try {
      pytorch = JSON.parse(fs.readFileSync(values.pytorch, "utf8"));
      if (!Array.isArray(pytorch)) throw new Error("expected a JSON array of rows");
    } catch (e) {
      console.error(`bench: --pytorch ${values.pytorch}: ${(e as Error).message} (write it with: python bench/torch_reference.py --out FILE)`);
      process.exit(2);
    }
  }
  for (const b of BENCHES) {
    if (only && !only.includes(b.name)) continue;
    const repeats = Number(values.repeats ?? b.repeats ?? 3);
    const runs: Record<string, number | string>[] = [];
    for (let r = 0; r < repeats; r++) runs.push(await b.run());
    // Report the fastest repeat: the least disturbed by other load on the machine.
    const best = runs.reduce((a, c) => (Number(c.seconds ?? c.fastSecondsPerFit) < Number(a.seconds ?? a.fastSecondsPerFit) ? c : a));
    console.log(JSON.stringify({ bench: b.name, repeats, ...best, node: env.node, cpu: env.cpuModel }));
  }
  const neural = NEURAL.filter((b) => !only || only.includes(b.name));
  if (neural.length === 0) return;
  const installed = (await availableBackends()).filter((a) => a.available).map((a) => a.name);
  const backends = values.backends ? values.backends.split(",").map((b) => b.trim()) : installed;
  for (const b of backends) {
    if (!installed.includes(b as BackendName)) {
      console.error(`bench: --backends: ${JSON.stringify(b)} is not installed here (installed: ${installed.join(", ")})`);
      process.exit(2);
    }
  }
  const table: Record<string, Record<string, number>> = {};
  for (const bench of neural) {
    table[bench.name] = {};
    for (const backend of backends as BackendName[]) {
      if (bench.backends && !bench.backends.includes(backend)) continue;
      const sel = await selectBackend({ backend });
      const { rate, ...fields } = await bench.run(backend);
      table[bench.name][backend] = rate;
      const ref = bench.pytorch && pytorch.find((r) => r.model === bench.pytorch!.model && r.kind === bench.pytorch!.kind);
      const vsPytorch = ref ? { pytorchTokensPerSecond: ref.tokensPerSecond, vsPytorch: rate / ref.tokensPerSecond } : {};
      console.log(JSON.stringify({ bench: bench.name, backend, backendDetail: sel.detail, ...fields, [bench.unit === "tokens/s" ? "tokensPerSecond" : "stepsPerSecond"]: rate, ...vsPytorch, node: env.node, cpu: env.cpuModel }));
    }
  }
  // Side by side, on stderr so that stdout stays one JSON object per line.
  const cols = [...backends, ...(pytorch.length ? ["pytorch", "best/pytorch"] : [])];
  const lines = [`| benchmark | unit | ${cols.join(" | ")} |`, `|---|---|${cols.map(() => "---:").join("|")}|`];
  for (const bench of neural) {
    const row = backends.map((b) => (b in table[bench.name] ? fmt(table[bench.name][b]) : ""));
    if (pytorch.length) {
      const ref = bench.pytorch && pytorch.find((r) => r.model === bench.pytorch!.model && r.kind === bench.pytorch!.kind);
      const best = Math.max(...Object.values(table[bench.name]));
      row.push(ref ? fmt(ref.tokensPerSecond) : "", ref ? `${(best / ref.tokensPerSecond).toFixed(2)}×` : "");
    }
    lines.push(`| ${bench.name} | ${bench.unit} | ${row.join(" | ")} |`);
  }
  console.error(lines.join("\n"));
}

function fmt(x: number): string {
  return x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(2);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
