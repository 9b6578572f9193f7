import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, test } from "node:test";
import { selectBackend } from "../src/backend";
import type { IterationRecord } from "../src/collapse/loop";
import { type LmSequenceConfig, lmBaseConfig, runLmSequence } from "../src/index";
import { LM, runSequences } from "../src/index";
import { SequencesFailedError } from "../src/index";
import { ConfigError, DataError } from "../src/errors";
import { freshStore, tempDir } from "./helpers";

// runLmSequences: several sequences in worker processes give exactly what one process gives.

const SMOKE = lmBaseConfig("smoke");
const BASE: LmSequenceConfig = { ...SMOKE, iterations: 2, train: { ...SMOKE.train, maxSteps: 6 }, sampling: { ...SMOKE.sampling, maxTokens: 24 } };
const timeless = (records: readonly IterationRecord[]) => records.map((r) => ({ ...r, seconds: 0 }));

before(async () => {
  await selectBackend();
});

test("sequences run in worker processes match the same sequences run here, and share their first model", async () => {
  const configs: LmSequenceConfig[] = [
    { ...BASE, strategy: "replace" },
    { ...BASE, strategy: "accumulate" },
    { ...BASE, strategy: "replace", sampling: { ...BASE.sampling, temperature: 0.5 } },
  ];
  const store = freshStore("lmseqs-par");
  const seen: number[][] = [[], [], []];
  const statuses: string[] = [];
  const parallel = await runSequences(LM, configs, { store, parallel: 2, onIteration: (i, r) => seen[i].push(r.iteration), onStatus: (_i, m) => statuses.push(m) });
  assert.deepEqual(seen, [[1, 2], [1, 2], [1, 2]], "every iteration is reported with its sequence's index");
  assert.ok(statuses.length > 0);
  assert.equal(fs.readdirSync(path.join(store.root, "lm-first-model")).length, 1, "one first model for the three sequences");
  const [first] = fs.readdirSync(path.join(store.root, "lm-first-model"));
  const trained = fs.readFileSync(path.join(store.root, "lm-first-model", first, "metrics.jsonl"), "utf8").trim().split("\n");
  assert.equal(trained.length, 1, "model 1 trained once");

  const here: Awaited<ReturnType<typeof runLmSequence>>[] = [];
  for (const c of configs) here.push(await runLmSequence(c, { store: null }));
  parallel.forEach((r, i) => {
    assert.equal(r.config, configs[i], "results come back in the order given");
    assert.deepEqual(timeless(r.records), timeless(here[i].records), `sequence ${i}: records bitwise`);
  });
  assert.notDeepEqual(parallel[0].records[1].metrics, parallel[2].records[1].metrics, "the temperature changes model 2");

  // Everything is finished now: a second call reads back without starting a worker or training.
  const again = await runSequences(LM, configs, { store, parallel: 2, onFitProgress: () => assert.fail("nothing should train") });
  again.forEach((r, i) => assert.deepEqual(r.records, parallel[i].records));
});

test("a failing sequence does not stop the others; the error names it and its cause", async () => {
  const store = freshStore("lmseqs-fail");
  // Two stories are too few: the worker finds out once it has read the file.
  const tiny = path.join(tempDir("lmseqs-tiny"), "two-stories.txt");
  fs.writeFileSync(tiny, "Once upon a time.\n<|endoftext|>\nThe end came soon.\n");
  const configs: LmSequenceConfig[] = [
    { ...BASE, iterations: 1, strategy: "replace" },
    { ...BASE, iterations: 1, strategy: "replace", data: `text:${tiny}` },
  ];
  await assert.rejects(runSequences(LM, configs, { store, parallel: 2 }), (e: Error) => {
    assert.match(e.message, /1 of 2 sequences failed/);
    assert.match(e.message, /sequence 1 \(gpt2-smoke · replace/);
    assert.match(e.message, /trainDocuments/);
    // ... and as data: the failed sequence's position and its own error, with its class.
    assert.ok(e instanceof SequencesFailedError);
    assert.deepEqual(e.failures.map((f) => f.index), [1]);
    assert.ok(e.failures[0].error instanceof DataError || e.failures[0].error instanceof ConfigError, `${e.failures[0].error.name}`);
    return true;
  });
  assert.equal(fs.readdirSync(path.join(store.root, "lm")).length, 1, "the good sequence finished its run");
});

test("bad input is rejected before any worker starts", async () => {
  const store = freshStore("lmseqs-bad");
  await assert.rejects(runSequences(LM, [BASE, { ...BASE, iterations: 0 }], { store, parallel: 2 }), (e: unknown) => e instanceof ConfigError && e.field === "sequences[1].iterations");
  await assert.rejects(runSequences(LM, [BASE], { store, parallel: 0 }), (e: unknown) => e instanceof ConfigError && e.field === "parallel");
  const missing = path.join(tempDir("lmseqs-missing"), "no-such-corpus.txt");
  await assert.rejects(runSequences(LM, [BASE, { ...BASE, data: `text:${missing}` }], { store, parallel: 2 }), (e: unknown) => {
    assert.ok(e instanceof DataError && e.path === missing, String(e));
    assert.match((e as Error).message, /sequence 1: cannot read the corpus \(ENOENT\)/);
    return true;
  });
  assert.ok(!fs.existsSync(path.join(store.root, "lm")));
});

test("LM.cost: accumulate's work grows with the iteration, replace's does not", () => {
  const r = LM.cost({ ...BASE, strategy: "replace", iterations: 4 }, 0);
  const a = LM.cost({ ...BASE, strategy: "accumulate", iterations: 4 }, 0);
  assert.equal(a / r, (1 + 2 + 3 + 4) / 4);
  assert.equal(LM.cost({ ...BASE, strategy: "replace", iterations: 4 }, 4), 0, "nothing left to do");
});
