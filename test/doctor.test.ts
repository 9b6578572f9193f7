import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";
import { packageRoot } from "../src/environment";
import { tempDir } from "./helpers";

test("collapse doctor: backends, the one a run would use, GPU, threads, memory, disk and Slurm, as text and JSON", (t) => {
  const cli = (args: string[]) => spawnSync(process.execPath, [path.join(packageRoot(), "bin", "collapse.js"), "doctor", ...args], { encoding: "utf8", timeout: 120_000 });
  const runs = path.join(tempDir("doctor"), "not-yet");
  const json = cli(["--json", "--runs-dir", runs]);
  assert.equal(json.status, 0, json.stderr);
  const r = JSON.parse(json.stdout);
  assert.deepEqual(
    r.backends.map((b: { name: string }) => b.name),
    ["tensorflow", "wasm", "cpu"],
  );
  assert.ok(r.backends.find((b: { name: string; available: boolean }) => b.name === "cpu").available, "cpu always loads");
  assert.ok(["tensorflow", "wasm", "cpu"].includes(r.selected.backend));
  assert.equal(typeof r.gpu.tensorflowSeesGpu, "boolean");
  assert.ok(r.threads.cores >= 1 && r.memory.totalGiB > 0);
  assert.equal(r.runStore.root, runs);
  assert.equal(r.runStore.exists, false);
  assert.ok(r.runStore.freeDiskGiB > 0, "free disk of the nearest existing parent");
  const text = cli(["--runs-dir", runs]);
  assert.equal(text.status, 0, text.stderr);
  for (const line of [/^collapse-kit \S+ · Node v/m, /^backends:$/m, /^a run would use: /m, /^GPU: /m, /^threads: /m, /^memory: /m, /^run store: .*not made yet/m, /^Slurm: /m]) assert.match(text.stdout, line);
  t.diagnostic(text.stdout);
});
