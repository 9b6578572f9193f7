import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { BACKEND_ENV_VAR, selectBackend } from "../src/backend";
import type { IterationRecord } from "../src/collapse/loop";
import { lmBaseConfig, runLmSequence } from "../src/index";
import { moleculeBaseConfig, runMoleculeSequence } from "../src/index";
import { runVaeSequence, vaeBaseConfig } from "../src/index";
import { runGaussianSequence } from "../src/index";
import { runLinearExperiment } from "../src/linear/montecarlo";
import { freshStore } from "./helpers";

/**
 * Golden records: small smoke sequences of every modality on the `cpu` backend, compared bit for bit
 * (every metric, learning-curve point and size; wall times aside) with what the kit produced when the
 * fixture was written. Refactors must keep them; a change that is meant to move them rewrites the
 * fixture with COLLAPSE_WRITE_GOLDEN=1 and says why in its commit.
 */

const FIXTURE = path.join(__dirname, "..", "..", "test", "fixtures", "golden-records-cpu.json");

const timeless = (records: readonly IterationRecord[]) => records.map((r) => ({ ...r, seconds: 0 }));

const CASES: Record<string, () => Promise<unknown>> = {
  async lm() {
    const c = { ...lmBaseConfig("smoke"), trainDocuments: 40, validDocuments: 10, strategy: "accumulate" as const, iterations: 2 };
    return timeless((await runLmSequence(c, { store: freshStore("golden-lm") })).records);
  },
  async vae() {
    return timeless((await runVaeSequence({ ...vaeBaseConfig("smoke"), strategy: "accumulate", iterations: 2 }, { store: freshStore("golden-vae") })).records);
  },
  async molecules() {
    return timeless((await runMoleculeSequence({ ...moleculeBaseConfig("smoke"), strategy: "accumulate", iterations: 2 }, { store: freshStore("golden-mol") })).records);
  },
  async gaussian() {
    return timeless((await runGaussianSequence({ dim: 2, samples: 50, iterations: 5, seed: 0, referenceSize: 200, strategy: "augment" })).records);
  },
  async linear() {
    const r = await runLinearExperiment({ settings: [{ d: 3, T: 16, sigma2: 1 }], strategies: ["replace", "accumulate"], iterations: 4, seeds: 3 });
    return { ...r, seconds: 0 };
  },
};

const writing = process.env.COLLAPSE_WRITE_GOLDEN === "1";
const golden: Record<string, unknown> = writing || !fs.existsSync(FIXTURE) ? {} : JSON.parse(fs.readFileSync(FIXTURE, "utf8"));

for (const [name, run] of Object.entries(CASES)) {
  test(`golden records (cpu): ${name}`, async () => {
    const saved = process.env[BACKEND_ENV_VAR];
    process.env[BACKEND_ENV_VAR] = "cpu";
    try {
      await selectBackend();
      // Through JSON, as the fixture holds it (numbers round-trip exactly).
      const got = JSON.parse(JSON.stringify(await run()));
      if (writing) {
        golden[name] = got;
        fs.mkdirSync(path.dirname(FIXTURE), { recursive: true });
        fs.writeFileSync(FIXTURE, JSON.stringify(golden, null, 1) + "\n");
        return;
      }
      assert.ok(name in golden, `${FIXTURE} has no "${name}" records (write them with COLLAPSE_WRITE_GOLDEN=1)`);
      assert.deepEqual(got, golden[name]);
    } finally {
      if (saved === undefined) delete process.env[BACKEND_ENV_VAR];
      else process.env[BACKEND_ENV_VAR] = saved;
    }
  });
}
