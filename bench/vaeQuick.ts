/**
 * The §3.3 quick profile, timed: replace and accumulate sequences one after the other, printing each
 * iteration's test error and sample metrics, wall and CPU seconds. Usage:
 *   node dist/bench/vaeQuick.js [--profile quick] [--strategies replace,accumulate] [--iterations N] [--png DIR]
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../src/backend";
import { runVaeSequence, vaeBaseConfig } from "../src/index";
import { checkProfile } from "../src/index";
import { encodePng, imageGrid } from "../src/images/grid";
import { imageCodec } from "../src/images/types";
import { RunStore } from "../src/store/runStore";
import { type Strategy } from "../src/collapse/strategies";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { profile: { type: "string", default: "quick" }, strategies: { type: "string", default: "replace,accumulate" }, iterations: { type: "string" }, png: { type: "string" }, store: { type: "string" } } });
  const backend = await selectBackend();
  const base = vaeBaseConfig(checkProfile(values.profile));
  const store = values.store ? new RunStore(values.store) : null;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (const strategy of values.strategies!.split(",") as Strategy[]) {
    const config = { ...base, strategy, ...(values.iterations ? { iterations: Number(values.iterations) } : {}) };
    const s0 = performance.now();
    const u0 = process.cpuUsage();
    const result = await runVaeSequence(config, {
      store,
      onStatus: (m) => console.log(`[${strategy}] ${m}`),
      onIteration: (r) => {
        const m = r.metrics;
        const freqs = Object.entries(m).filter(([k]) => k.startsWith("freq_")).map(([k, v]) => `${k.slice(5)}=${v.toFixed(2)}`).join(" ");
        console.log(`[${strategy}] model ${r.iteration}: train ${r.trainSize} images, -ELBO ${m.testNegElbo.toFixed(1)} (rec ${m.testReconstruction.toFixed(1)}, KL ${m.testKl.toFixed(1)}), FD ${m.frechetDistance?.toFixed(2)}, P ${m.precision?.toFixed(2)} R ${m.recall?.toFixed(2)} | ${freqs} | ${r.seconds.toFixed(1)} s`);
      },
    });
    const u = process.cpuUsage(u0);
    console.log(`[${strategy}] classifier accuracy ${JSON.stringify(result.classifierAccuracy)}; real test frequencies ${JSON.stringify(result.realFrequencies)}`);
    console.log(`[${strategy}] ${((performance.now() - s0) / 1000).toFixed(1)} s wall, ${((u.user + u.system) / 1e6).toFixed(1)} s CPU, backend ${backend.name}, tensors ${tf.memory().numTensors}`);
    if (values.png && result.runDir) {
      fs.mkdirSync(values.png, { recursive: true });
      for (let n = 1; n < config.iterations; n++) {
        const bytes = fs.readFileSync(path.join(result.runDir, "artifacts", `synthetic-${n}.bin`));
        fs.writeFileSync(path.join(values.png, `${strategy}-${n}.png`), await encodePng(imageGrid(imageCodec.decode(bytes), { count: 64, columns: 8 }), 3));
      }
    }
  }
  const u = process.cpuUsage(c0);
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s wall, ${((u.user + u.system) / 1e6).toFixed(1)} s CPU`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
