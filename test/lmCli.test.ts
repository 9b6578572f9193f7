import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { test } from "node:test";
import { packageRoot } from "../src/environment";
import { lmConfigNames } from "../src/lm/configs";
import { tempDir } from "./helpers";

// `collapse lm` end to end, at the smoke profile (a 2-model sequence trains in a few seconds on wasm).

const BIN = path.join(packageRoot(), "bin", "collapse.js");

function collapse(args: string[], env: NodeJS.ProcessEnv = {}) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - started) / 1000 };
}

/** Like `collapse`, without blocking the event loop (for tests that serve something in-process). */
function collapseAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 }));
  });
}

/** A TCP port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test("collapse --help lists lm; collapse lm --help names every flag and the model configs", () => {
  assert.match(collapse(["--help"]).stdout, /collapse lm/);
  const help = collapse(["lm", "--help"]);
  assert.equal(help.code, 0);
  const flags = ["--model", "--strategy", "--iterations", "--temperature", "--top-k", "--top-p", "--data", "--profile", "--seed", "--documents", "--valid-documents", "--vocab", "--epochs", "--first-epochs", "--fresh-real", "--batch", "--lr", "--config", "--backend", "--json", "--no-cache", "--runs-dir", "--help"];
  for (const flag of flags) assert.ok(help.stdout.includes(flag), `lm --help mentions ${flag}`);
  for (const name of lmConfigNames()) assert.ok(help.stdout.includes(name), `lm --help lists model ${name}`);
  for (const data of ["embedded", "tinystories", "text:PATH"]) assert.ok(help.stdout.includes(data), `lm --help names --data ${data}`);
});

test("collapse lm --profile smoke --json: one record per model, stored in the run store and read back identically", () => {
  const runs = tempDir("lmcli");
  const args = ["lm", "--profile", "smoke", "--iterations", "2", "--json", "--runs-dir", runs];
  const first = collapse(args);
  assert.equal(first.code, 0, first.stderr);
  const out = JSON.parse(first.stdout);
  assert.equal(out.model, "gpt2-smoke");
  assert.ok(Number.isInteger(out.parameters) && out.parameters > 0);
  assert.ok(["tensorflow", "wasm", "cpu"].includes(out.backend), String(out.backend));
  assert.ok(Number.isInteger(out.vocabSize) && out.vocabSize > 258 && out.vocabSize <= 512);
  assert.equal(out.resumedFrom, 0);
  assert.equal(out.iterations.length, 2);
  for (const [i, it] of out.iterations.entries()) {
    assert.equal(it.iteration, i + 1);
    assert.ok(Number.isFinite(it.testCrossEntropy) && it.testCrossEntropy > 0, `model ${i + 1}: CE ${it.testCrossEntropy}`);
    assert.ok(it.testCrossEntropy < Math.log(out.vocabSize) + 1, `model ${i + 1} learned something: CE ${it.testCrossEntropy}`);
    assert.ok(Number.isInteger(it.trainTokens) && it.trainTokens > 0);
    assert.equal(it.trainSize, 120);
    assert.ok(it.seconds > 0);
  }
  assert.equal(out.iterations[1].realInTrain, 0, "replace: model 2 trains on synthetic text only");
  // Progress went to stderr, not into the JSON.
  assert.match(first.stderr, /model 1\/2: test cross-entropy/);
  assert.match(first.stderr, /model 2\/2: test cross-entropy/);

  // The run directory holds the tokenizer, the synthetic set and one checkpoint per model.
  assert.equal(path.dirname(path.dirname(out.runDir)), path.resolve(runs));
  for (const f of ["config.json", "metrics.jsonl", "done.json", "artifacts/tokenizer.json", "artifacts/synthetic-1.bin", "artifacts/model-1.safetensors", "artifacts/model-2.safetensors"]) {
    assert.ok(fs.existsSync(path.join(out.runDir, f)), `run dir has ${f}`);
  }
  assert.equal(fs.readFileSync(path.join(out.runDir, "metrics.jsonl"), "utf8").trim().split("\n").length, 2);

  // Again: nothing is trained, the records are read back unchanged.
  const second = collapse(args);
  assert.equal(second.code, 0, second.stderr);
  const again = JSON.parse(second.stdout);
  assert.equal(again.resumedFrom, 2);
  assert.deepEqual({ ...again, resumedFrom: 0 }, out);
  assert.doesNotMatch(second.stderr, /model 1\/2|training a byte-level BPE/);
  assert.ok(second.seconds < first.seconds / 2, `read back in ${second.seconds.toFixed(1)}s, trained in ${first.seconds.toFixed(1)}s`);

  // The human-readable table comes from the same records.
  const table = collapse(args.filter((a) => a !== "--json"));
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /from run store/);
  assert.match(table.stdout, new RegExp(`\\n\\s+1\\s+${out.iterations[0].testCrossEntropy.toFixed(4)}\\s+—`));
  const delta = out.iterations[1].testCrossEntropy - out.iterations[0].testCrossEntropy;
  assert.match(table.stdout, new RegExp(`\\n\\s+2\\s+${out.iterations[1].testCrossEntropy.toFixed(4)}\\s+[+−]${Math.abs(delta).toFixed(4)}`));
});

test("collapse lm: bad input exits 2 with a message naming the problem, before any run directory is made", () => {
  const runs = tempDir("lmcli-bad");
  const cases: [string[], RegExp][] = [
    [["--model", "gpt5"], /--model: unknown model "gpt5" \(known: .*gpt2-smoke/],
    [["--data", "nope"], /--data: expected "embedded", "tinystories" or "text:PATH", got "nope"/],
    [["--temperature", "0"], /--temperature: must be > 0, got 0/],
    [["--temperature", "warm"], /--temperature: expected a number, got "warm"/],
    [["--strategy", "recycle"], /--strategy: unknown strategy "recycle"/],
    [["--iterations", "two"], /--iterations: expected an integer, got "two"/],
    [["--top-p", "1.5"], /--top-p: must be ≤ 1/],
    [["--vocab", "100"], /--vocab: must be ≥ 258/],
    [["--backend", "gpu"], /--backend: expected one of tensorflow, wasm, cpu/],
    [["--model", "gpt2-smoke"], /train\.sequenceLength: must be ≤ 64.*--profile smoke/],
    [["--profile", "medium", "--model", "llama2-quick-s"], /train\.sequenceLength: must be ≤ 256, got 512 \(set by the medium profile, which is sized for gpt2-9m; --model llama2-quick-s fits --profile quick/],
    [["--data", "text:/nonexistent/file.txt"], /\/nonexistent\/file\.txt: cannot read the corpus \(ENOENT\); --data text:PATH needs an existing text file/],
    [["--bogus"], /Unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    const r = collapse(["lm", ...args, "--runs-dir", runs]);
    assert.equal(r.code, 2, `${args.join(" ")}: exit code (${r.stderr})`);
    assert.match(r.stderr, message, `${args.join(" ")}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${args.join(" ")}: no stack trace`);
  }
  assert.deepEqual(fs.readdirSync(runs), [], "no run directory for a run that could not start");
});

test("collapse lm --data tinystories offline exits 2 quickly, pointing at --data embedded", async () => {
  const runs = tempDir("lmcli-offline");
  const cache = tempDir("lmcli-data");
  const port = await closedPort();
  const r = await collapseAsync(["lm", "--data", "tinystories", "--runs-dir", runs], {
    COLLAPSE_TINYSTORIES_URL: `http://127.0.0.1:${port}`,
    COLLAPSE_DATA_DIR: cache,
    COLLAPSE_TINYSTORIES_DIR: "",
  });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /cannot download TinyStories/);
  assert.match(r.stderr, /ECONNREFUSED/);
  assert.match(r.stderr, /--data embedded/);
  assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));
  assert.ok(r.seconds < 15, `gave up after ${r.seconds.toFixed(1)}s`);
  assert.deepEqual(fs.readdirSync(runs), [], "no run directory");
  const leftovers = fs.existsSync(path.join(cache, "tinystories")) ? fs.readdirSync(path.join(cache, "tinystories")) : [];
  assert.deepEqual(leftovers, [], "no partial download left in the cache");
});
