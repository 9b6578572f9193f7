/**
 * A few optimizer steps of a paper-sized language model at the paper profile's batch (64 × 512), in
 * micro-batches, on the backend the kit selects; prints one JSON line: parameters, steps, seconds and
 * the process's peak resident memory. What the paper-scale memory test (test/paperScale.test.ts) and
 * `npm run bench` run:
 *
 *   node dist/bench/paperStep.js [--model gpt2-9m] [--steps 2] [--micro-batch 8] [--batch 64] [--sequence 512]
 */
import { parseArgs } from "node:util";
import { backendInfo, selectBackend } from "../src/backend";
import { lmConfig } from "../src/lm/configs";
import { initParams, parameterCount } from "../src/lm/model";
import { TRAIN_DEFAULTS, train } from "../src/lm/train";
import { disposeParams } from "../src/nn/params";
import { Rng } from "../src/random";

const VOCAB = 8000; // the paper profile's vocabulary (ours)

export interface PaperStepResult {
  model: string;
  parameters: number;
  backend: string;
  batch: number;
  microBatch: number;
  sequence: number;
  steps: number;
  seconds: number;
  peakRssGiB: number;
}

export async function paperStep(o: { model: string; steps: number; microBatch: number; batch: number; sequence: number }): Promise<PaperStepResult> {
  const backend = await selectBackend();
  const config = lmConfig(o.model, VOCAB);
  const rng = Rng.derive(0, "paper-step");
  const params = initParams(config, rng.fork("init"));
  // Random tokens: the step's cost and memory do not depend on the text.
  const data = rng.fork("data");
  const windows = Array.from({ length: o.batch * o.steps }, () => Int32Array.from({ length: o.sequence + 1 }, () => data.int(VOCAB)));
  const started = performance.now();
  try {
    await train(config, params, windows, windows.slice(0, 1), { ...TRAIN_DEFAULTS, batchSize: o.batch, microBatchSize: o.microBatch, sequenceLength: o.sequence, maxSteps: o.steps, warmupFraction: 0 }, rng.fork("train"));
  } finally {
    disposeParams(params);
  }
  return {
    model: o.model,
    parameters: parameterCount(config),
    backend: String(backendInfo()?.backend ?? backend.name),
    batch: o.batch,
    microBatch: o.microBatch,
    sequence: o.sequence,
    steps: o.steps,
    seconds: (performance.now() - started) / 1000,
    // maxRSS is in KiB.
    peakRssGiB: process.resourceUsage().maxRSS / 1024 ** 2,
  };
}

if (require.main === module) {
  const { values } = parseArgs({
    options: { model: { type: "string" }, steps: { type: "string" }, "micro-batch": { type: "string" }, batch: { type: "string" }, sequence: { type: "string" } },
  });
  paperStep({
    model: values.model ?? "gpt2-9m",
    steps: Number(values.steps ?? 2),
    microBatch: Number(values["micro-batch"] ?? 8),
    batch: Number(values.batch ?? 64),
    sequence: Number(values.sequence ?? 512),
  }).then(
    (r) => console.log(JSON.stringify(r)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
