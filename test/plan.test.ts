import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";
import { type CostModel, type FitWork, type Plan, GPU_CALL_SECONDS, PlannedClock, gpuFitSeconds, gpuNamed, planSequences, plannedIterations } from "../src/collapse/plan";
import { lmConfig } from "../src/lm/configs";
import { LM_COST, lmForwardFlopsPerToken, lmMicroBatchFor, lmPeakBytes } from "../src/lm/plan";
import { LM, lmBaseConfig } from "../src/lm/spec";
import { VAE, vaeBaseConfig } from "../src/vae/spec";
import { InterruptedError } from "../src/interrupt";
import { egnnForwardMacs } from "../src/molecules/plan";
import { vaeForwardMacs } from "../src/vae/plan";
import { packageRoot } from "../src/environment";
import { DIE, type DieConfig } from "./toyModality";

const BIN = path.join(packageRoot(), "bin", "collapse.js");
const collapse = (args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

test("plannedIterations: every strategy's training-set sizes and draws, from the strategies' own rules", () => {
  const sizes = (strategy: Parameters<typeof plannedIterations>[0]["strategy"], fresh = 0) =>
    plannedIterations({ strategy, iterations: 4, realSize: 10, freshRealSize: fresh }).map((p) => [p.trainSize, p.scale, p.drawn, p.real]);
  assert.deepEqual(sizes("replace"), [[10, 1, 10, 10], [10, 1, 10, 0], [10, 1, 10, 0], [10, 1, 0, 0]]);
  assert.deepEqual(sizes("accumulate"), [[10, 1, 10, 10], [20, 1, 10, 10], [30, 1, 10, 10], [40, 1, 0, 10]]);
  assert.deepEqual(sizes("augment"), [[10, 1, 10, 10], [20, 1, 10, 10], [20, 1, 10, 10], [20, 1, 0, 10]]);
  // replace-multiple draws as much as accumulate trains on next: 10 real + 10 per model so far.
  assert.deepEqual(sizes("replace-multiple"), [[10, 1, 20, 10], [20, 1, 30, 0], [30, 1, 40, 0], [40, 1, 0, 0]]);
  assert.deepEqual(sizes("accumulate-subsample"), [[10, 1, 10, 10], [10, 1, 10, 5], [10, 1, 10, 10 * (10 / 30)], [10, 1, 0, 2.5]]);
  // Replace's data for as many steps as accumulate's: scale n.
  assert.deepEqual(sizes("replace-matched-compute"), [[10, 1, 10, 10], [10, 2, 10, 0], [10, 3, 10, 0], [10, 4, 0, 0]]);
  // Fresh real data: 5 more at every iteration ≥ 2.
  assert.deepEqual(sizes("accumulate", 5), [[10, 1, 10, 10], [25, 1, 10, 15], [40, 1, 10, 20], [55, 1, 0, 25]]);
});

test("FLOPs by hand: the paper's GPT-2 per token, a tiny VAE and a tiny EGNN", () => {
  // gpt2-9m: 8,890,880 parameters; the lookups (8000 × 256 tokens, 2048 × 256 positions) cost nothing,
  // the tied head (8000 × 256) is read again: 2 × (8,890,880 − 2,572,288 + 2,048,000) = 16,733,184, and
  // attention over 512 positions: 2 × 8 layers × 512 × 256 = 2,097,152.
  assert.equal(lmForwardFlopsPerToken(lmConfig("gpt2-9m"), 512), 16_733_184 + 2_097_152);
  // llama2-12m: untied head (in the count), only the token table is a lookup: 2 × (12,488,960 − 2,048,000) + 2 × 8 × 512 × 256.
  assert.equal(lmForwardFlopsPerToken(lmConfig("llama2-12m"), 512), 2 * (12_488_960 - 2_048_000) + 2 * 8 * 512 * 256);
  // VAE on 8×8 images, one conv of 4 channels, latent 2: encoder 3·3·3·4 weights × 4² positions + two 64 → 2 heads;
  // decoder 2 → 64, then a sub-pixel conv of 3·3·4·12 weights × 4² positions.
  assert.deepEqual(vaeForwardMacs({ imageSize: 8, channels: [4], latentDim: 2, likelihood: "bernoulli" }), { encoder: 108 * 16 + 2 * 128, decoder: 128 + 432 * 16 });
  // EGNN, width 2, one layer, 3 atoms (6 directed edges): per edge (2·2 + 1 + 1)·2 + 4 + 4 + 2 = 22, per atom 8 + 4 = 12, time 1 × 2 per atom.
  const egnn = { hidden: 2, layers: 1, bondEmbedding: 1, timeFeatures: 1, rbf: 1, rbfMax: 10, radius: 10 };
  assert.equal(egnnForwardMacs(egnn, 3), 6 * 22 + 3 * 12 + 3 * 2);
});

test("an LM's work: steps, tokens and FLOPs per fit of an accumulate sequence, by hand", () => {
  const c = { ...LM.profiles.smoke, trainTokens: 6400, trainDocuments: undefined, validTokens: 640, validDocuments: undefined, strategy: "accumulate" as const, iterations: 3, textMetricDocuments: 0 };
  const w = LM_COST.work(c);
  // 6400 real tokens at iteration 1, 12,800 at 2, 19,200 at 3; windows of 64 tokens in batches of 8; 1 epoch.
  assert.deepEqual(
    w.fits.map((f) => [f.trainSize, f.steps, f.trainUnits]),
    [
      [6400, 13, 13 * 8 * 64],
      [12800, 25, 25 * 8 * 64],
      [19200, 38, 38 * 8 * 64],
    ],
  );
  const perToken = lmForwardFlopsPerToken(lmConfig("gpt2-smoke"), 64);
  assert.equal(w.fits[0].trainFlops, 3 * 13 * 8 * 64 * perToken);
  // After models 1 and 2, a synthetic set as long as the real one; after the last, one sampling batch
  // (60 documents, of 64 tokens: the context caps the documents' length).
  assert.deepEqual(
    w.fits.map((f) => f.sampleUnits),
    [6400, 6400, 60 * 64],
  );
});

test("the micro-batch that fits a memory budget: gpt2-9m at 64 × 512", () => {
  const paper = LM.profiles.paper;
  const m = lmConfig("gpt2-9m");
  // The estimate is fitted to the 9.3 GiB measured at micro-batch 8.
  assert.ok(Math.abs(lmPeakBytes(m, 8, 512) / 1024 ** 3 - 9.3) < 0.01);
  assert.equal(lmMicroBatchFor(paper, 24 * 1024 ** 3), 16);
  assert.equal(lmMicroBatchFor(paper, 8 * 1024 ** 3), 4);
  assert.equal(lmMicroBatchFor(paper, 1 * 1024 ** 3), null);
  assert.match(LM_COST.advise!({ ...paper, train: { ...paper.train, microBatchSize: 64 } }, 24 * 1024 ** 3)!, /--micro-batch 16 \(≈ 16\.\d+ GiB\) fits/);
  assert.equal(LM_COST.advise!(paper, 24 * 1024 ** 3), null);
});

test("GPU time: FLOPs at the stated share of peak, never below the per-call floor", () => {
  const gpu = gpuNamed("h100-sxm");
  const fit = (o: Partial<FitWork>): FitWork => ({ iteration: 1, trainSize: 0, trainUnits: 0, steps: 0, trainFlops: 0, sampleUnits: 0, sampleFlops: 0, sampleCalls: 0, evalUnits: 0, evalFlops: 0, diskBytes: 0, ...o });
  // 494e12 × 0.3 FLOP/s: 1.482e15 FLOPs take 10 s.
  assert.ok(Math.abs(gpuFitSeconds(fit({ trainFlops: 1.482e15, steps: 10 }), gpu) - 10) < 1e-9);
  // A thousand tiny steps take at least their floor.
  assert.equal(gpuFitSeconds(fit({ trainFlops: 1, steps: 1000 }), gpu), 1000 * GPU_CALL_SECONDS.trainStep);
  assert.equal(gpuFitSeconds(fit({ sampleFlops: 1, sampleCalls: 500 }), gpu), 500 * GPU_CALL_SECONDS.sampleCall);
  assert.throws(() => gpuNamed("tpu"), /unknown GPU "tpu" \(known: h100-sxm/);
});

/** The die with a cost model of fixed rates: a fit is 1 s a step and 0.1 s a sampled roll, setup 2 s. */
const TIMED_DIE = {
  ...DIE,
  firstModelKey: (c: DieConfig) => `${c.rolls}`,
  plan: {
    work: (c) => ({
      parameters: c.faces,
      units: { train: "rolls", sample: "rolls", eval: "rolls" },
      fits: plannedIterations({ strategy: c.strategy, iterations: c.iterations, realSize: c.rolls }).map((p) => ({ iteration: p.iteration, trainSize: p.trainSize, trainUnits: p.trainSize, steps: p.trainSize, trainFlops: p.trainSize, sampleUnits: p.drawn, sampleFlops: p.drawn, sampleCalls: 1, evalUnits: 0, evalFlops: 0, diskBytes: 4 * p.drawn })),
      memory: { peakBytes: 1, basis: "" },
      checkpointBytes: 0,
      assumptions: [],
    }),
    calibrate: async () => ({ trainStep: 1, sampleUnit: 0.1, evalUnit: 0, setup: 2, fitOverhead: 0, basis: "fixed" }),
  } satisfies CostModel<DieConfig>,
};

test("a plan's time: fits × rates, sequences scheduled longest first on the workers, a shared first model waited for and read", async () => {
  const base: DieConfig = { faces: 3, rolls: 10, strategy: "replace", iterations: 3, seed: 0 };
  const configs = [base, { ...base, strategy: "accumulate" as const }, { ...base, rolls: 5, seed: 1 }];
  const plan: Plan = await planSequences(TIMED_DIE, configs, { parallel: 2 });
  // replace, 10 rolls: 3 fits of 10 steps, 10 rolls drawn after models 1 and 2: 2 + 11 + 11 + 10 = 34 s.
  assert.deepEqual(plan.sequences[0].fitSeconds, [11, 11, 10]);
  assert.equal(plan.sequences[0].seconds, 34);
  // accumulate shares model 1 with replace (same rolls): it reads it (and still samples 10 rolls from
  // it), then 20 and 30 steps: 2 + 1 + 21 + 30 = 54 s.
  assert.ok(plan.sequences[1].sharesFirstModel);
  assert.deepEqual(plan.sequences[1].fitSeconds, [1, 21, 30]);
  // 5 rolls: 2 + 5.5 + 5.5 + 5 = 18 s.
  assert.equal(plan.sequences[2].seconds, 18);
  // As the runner starts them: longest first, accumulate (54 s as planned) starts and, first with its
  // first model, trains it (+10 s: 64 s); replace waits for that model, so worker 2 takes the 5-roll
  // sequence (18 s); at 18 s replace starts and reads model 1 (34 − 10 = 24 s): max(64, 18 + 24) = 64 s.
  assert.equal(plan.wallSeconds, 64);
  assert.equal(plan.serialSeconds, 34 + 54 + 18);
  // Finished iterations cost nothing, and a whole sequence in the store is not timed.
  const resumed = await planSequences(TIMED_DIE, configs, { parallel: 1, finished: (_c, i) => (i === 0 ? 3 : i === 2 ? 1 : 0) });
  assert.equal(resumed.sequences[0].seconds, 0);
  assert.equal(resumed.sequences[2].seconds, 2 + 5.5 + 5);
  // Not timed: work only.
  const untimed = await planSequences(TIMED_DIE, configs, { calibrate: false });
  assert.equal(untimed.wallSeconds, null);
  assert.equal(untimed.totals.steps, 10 + 10 + 10 + 20 + 30 + 5 + 5 + 5);
});

test("the ETA follows the plan's work, then the pace measured", async () => {
  const plan = await planSequences(TIMED_DIE, [{ faces: 3, rolls: 10, strategy: "accumulate", iterations: 3, seed: 0 }], { parallel: 1 });
  const clock = new PlannedClock(plan, 0);
  // Nothing done: the plan's time less the time so far.
  assert.equal(clock.eta(5000), plan.wallSeconds! - 5);
  // Fits of 11, 21 and 30 s: model 1 done (11 of 62 planned s) after 22 s: twice as slow as planned.
  clock.fitDone(0, 1);
  assert.ok(Math.abs(clock.eta(22_000)! - (22 * (1 - 11 / 62)) / (11 / 62)) < 1e-9);
  // Half of model 2's steps: its training (20 of its 21 s) half done.
  clock.step(0, 2, 10);
  assert.ok(Math.abs(clock.eta(22_000)! - (22 * (1 - 21 / 62)) / (21 / 62)) < 1e-9);
});

test("collapse plan: a command's plan, timed here; every section at paper, untimed, with the micro-batch advice; bad flags named", () => {
  const smoke = collapse(["plan", "lm", "--profile", "smoke", "--strategy", "accumulate", "--gpu", "rtx-4090"]);
  assert.equal(smoke.code, 0, smoke.stderr);
  assert.match(smoke.stdout, /^lm · gpt2-smoke · accumulate · 120 documents · seed 0 · 43,904 parameters$/m);
  assert.match(smoke.stdout, /^ {4}3 +\S+ +\S+ +141 /m);
  assert.match(smoke.stdout, /^time here ≈ \S+ on \d+ worker\(s\)/m);
  assert.match(smoke.stdout, /^on one rtx-4090 ≈ /m);

  const json = collapse(["plan", "vae", "--profile", "smoke", "--no-calibrate", "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const [p] = JSON.parse(json.stdout).plans;
  assert.equal(p.modality, "vae");
  assert.equal(p.wallSeconds, null);
  assert.equal(p.fits.length, VAE_SMOKE_ITERATIONS);

  const paper = collapse(["plan", "--profile", "paper", "--no-calibrate", "--memory", "24", "--gpu", "h100-sxm"]);
  assert.equal(paper.code, 0, paper.stderr);
  for (const section of ["lm", "lm-appendix", "molecules", "vae", "augmentation", "controls"]) assert.match(paper.stdout, new RegExp(`^== reproduce --only ${section} --profile paper: `, "m"));
  assert.match(paper.stdout, /^memory: llama2-126m in passes of 8 × 512 tokens needs ≈ 26\.\d+ GiB, more than the 24\.00 GiB at hand: --micro-batch 4 /m);
  assert.match(paper.stdout, /^all of it: on one h100-sxm ≈ [\d.]+ h; [\d.]+ (GiB|TiB) in the run store$/m);

  const unknown = collapse(["plan", "nosuch"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /plan: unknown command "nosuch"/);
  const gpu = collapse(["plan", "lm", "--profile", "smoke", "--gpu", "tpu"]);
  assert.equal(gpu.code, 2);
  assert.match(gpu.stderr, /--gpu: unknown GPU "tpu"/);
});

const VAE_SMOKE_ITERATIONS = 3;

test("an interrupted plan stops within one short fit of its timing, with an InterruptedError (a notebook's Kernel > Interrupt while it plans)", async () => {
  const before = new AbortController();
  before.abort(new InterruptedError());
  await assert.rejects(planSequences(LM, [{ ...lmBaseConfig("smoke"), iterations: 2 }], { signal: before.signal, contention: false }), InterruptedError);
  const during = new AbortController();
  const started = performance.now();
  setTimeout(() => during.abort(new InterruptedError()), 1500);
  await assert.rejects(planSequences(VAE, [{ ...vaeBaseConfig("smoke"), iterations: 2 }], { signal: during.signal, contention: false }), InterruptedError);
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds < 20, `stopped ${seconds.toFixed(1)} s after it started (the whole timing takes longer)`);
});
