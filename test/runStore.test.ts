import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, DataError } from "../src/errors";
import { RunStore, canonicalJson, writeFileAtomic } from "../src/store/runStore";
import { freshStore as freshStoreIn } from "./helpers";

const freshStore = () => freshStoreIn("runstore");

test("same config gives the same directory, whatever the key order", () => {
  const store = freshStore();
  const a = store.open("linear", { a: 1, b: { c: [1, 2, { x: 1, y: 2 }], d: "s" } });
  a.close();
  const b = store.open("linear", { b: { d: "s", c: [1, 2, { y: 2, x: 1 }] }, a: 1 });
  b.close();
  assert.equal(a.dir, b.dir);
  assert.equal(a.key, b.key);
  assert.match(a.key, /^[0-9a-f]{16}$/);
  assert.equal(a.dir, path.join(store.root, "linear", a.key));
  // undefined-valued keys are dropped, as JSON would
  const c = store.open("linear", { a: 1, b: { c: [1, 2, { x: 1, y: 2 }], d: "s", e: undefined } });
  c.close();
  assert.equal(c.dir, a.dir);
  // the layout
  for (const f of ["config.json", "env.json", "sessions.jsonl", "artifacts"]) assert.ok(fs.existsSync(path.join(a.dir, f)), f);
  const stored = JSON.parse(fs.readFileSync(path.join(a.dir, "config.json"), "utf8"));
  assert.equal(stored.kind, "linear");
  assert.equal(stored.key, a.key);
  assert.deepEqual(stored.config, { a: 1, b: { c: [1, 2, { x: 1, y: 2 }], d: "s" } });
  // one session line per open
  const sessions = fs.readFileSync(path.join(a.dir, "sessions.jsonl"), "utf8").trim().split("\n");
  assert.equal(sessions.length, 3);
  assert.equal(JSON.parse(sessions[0]).records, 0);
});

test("canonicalJson sorts keys at every level and keeps array order", () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
  assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
});

test("different configs or kinds give different directories", () => {
  const store = freshStore();
  const dirs = new Set<string>();
  for (const [kind, config] of [
    ["linear", { a: 1 }],
    ["linear", { a: 2 }],
    ["linear", { a: "1" }],
    ["linear", { a: [1] }],
    ["linear", { a: 1, b: null }],
    ["other", { a: 1 }],
  ] as [string, unknown][]) {
    const run = store.open(kind, config);
    run.close();
    dirs.add(run.dir);
  }
  assert.equal(dirs.size, 6);
});

test("bad kinds are rejected", () => {
  const store = freshStore();
  for (const kind of ["Linear", "", "-x", "a/b", "a_b", "../x"]) {
    assert.throws(
      () => store.open(kind, {}),
      (e: unknown) => e instanceof ConfigError && e.field === "kind",
      kind,
    );
  }
  assert.deepEqual(fs.readdirSync(store.root), []);
});

test("non-finite numbers (and undefined in arrays) in a config are a ConfigError, before anything is written", () => {
  const store = freshStore();
  for (const [config, field] of [
    [{ a: NaN }, "config.a"],
    [{ a: { b: Infinity } }, "config.a.b"],
    [{ a: [1, -Infinity] }, "config.a[1]"],
    [{ a: [1, undefined] }, "config.a[1]"],
    [{ f: () => 1 }, "config.f"],
  ] as [unknown, string][]) {
    // The culprit's path inside the config. (The store currently reports it as "config.config.a":
    // its canonical wrapper {format, kind, config} is itself labelled "config"; both spellings pass.)
    assert.throws(
      () => store.open("linear", config),
      (e: unknown) => e instanceof ConfigError && (e.field === field || e.field === `config.${field}`),
      field,
    );
  }
  assert.deepEqual(fs.readdirSync(store.root), []);
});

test("records round-trip exactly, in order", () => {
  const store = freshStore();
  const run = store.open("linear", { x: 1 });
  const recs = [
    { iteration: 1, metrics: { testError: 0.1 + 0.2, tiny: 5e-324, big: 1.7976931348623157e308 }, label: "ünïcødé \n \"quoted\"" },
    { iteration: 2, metrics: { testError: -0 }, list: [1, 2, 3] },
    { iteration: 3, metrics: {}, nested: { a: [{ b: null }] } },
  ];
  assert.deepEqual(run.records(), []);
  for (const r of recs) run.append(r);
  assert.deepEqual(run.records(), JSON.parse(JSON.stringify(recs)));
  assert.equal((run.records<(typeof recs)[0]>()[0].metrics as { testError: number }).testError, 0.1 + 0.2);
  run.close();
  // persisted across opens
  const again = store.open("linear", { x: 1 });
  assert.equal(again.records().length, 3);
  const sessions = fs.readFileSync(path.join(again.dir, "sessions.jsonl"), "utf8").trim().split("\n");
  assert.equal(JSON.parse(sessions[1]).records, 3);
  again.close();
  // recordCount reads the same without opening (or locking) the run, and is 0 for a run that is not there
  assert.equal(store.recordCount("linear", { x: 1 }), 3);
  assert.equal(store.recordCount("linear", { x: 2 }), 0);
  assert.ok(!fs.existsSync(path.join(again.dir, "lock")), "no lock left behind");
  assert.equal(store.find("linear", { x: 2 }), null, "nothing created");
});

test("append refuses non-finite numbers and leaves the file unchanged", () => {
  const store = freshStore();
  const run = store.open("linear", { x: 2 });
  run.append({ ok: 1 });
  const metricsPath = path.join(run.dir, "metrics.jsonl");
  const before = fs.readFileSync(metricsPath, "utf8");
  assert.throws(() => run.append({ metrics: { testError: NaN } }), /non-finite/);
  assert.throws(() => run.append({ v: [Infinity] }), /non-finite/);
  assert.equal(fs.readFileSync(metricsPath, "utf8"), before);
  assert.deepEqual(run.records(), [{ ok: 1 }]);
  run.close();
});

test("a torn trailing line is ignored by records() and cleanly replaced by the next append", () => {
  const store = freshStore();
  const run = store.open("linear", { torn: true });
  run.append({ iteration: 1 });
  run.append({ iteration: 2 });
  const metricsPath = path.join(run.dir, "metrics.jsonl");
  fs.appendFileSync(metricsPath, '{"iteration": 3, "metrics": {"testErr');
  assert.deepEqual(run.records(), [{ iteration: 1 }, { iteration: 2 }]);
  run.append({ iteration: 3, ok: "yes" });
  assert.deepEqual(run.records(), [{ iteration: 1 }, { iteration: 2 }, { iteration: 3, ok: "yes" }]);
  assert.equal(fs.readFileSync(metricsPath, "utf8"), '{"iteration":1}\n{"iteration":2}\n{"iteration":3,"ok":"yes"}\n');
  // a torn tail with multi-byte characters is also cut at the right byte
  fs.appendFileSync(metricsPath, '{"name": "ééé');
  assert.equal(run.records().length, 3);
  run.append({ iteration: 4 });
  assert.equal(fs.readFileSync(metricsPath, "utf8"), '{"iteration":1}\n{"iteration":2}\n{"iteration":3,"ok":"yes"}\n{"iteration":4}\n');
  // a file holding only a torn line
  const run2 = store.open("linear", { torn: "only" });
  const p2 = path.join(run2.dir, "metrics.jsonl");
  fs.writeFileSync(p2, '{"a":');
  assert.deepEqual(run2.records(), []);
  run2.append({ a: 1 });
  assert.equal(fs.readFileSync(p2, "utf8"), '{"a":1}\n');
  run.close();
  run2.close();
});

test("a corrupt complete line is a DataError naming metrics.jsonl and the line", () => {
  const store = freshStore();
  const run = store.open("linear", { corrupt: "line" });
  run.append({ iteration: 1 });
  const metricsPath = path.join(run.dir, "metrics.jsonl");
  fs.appendFileSync(metricsPath, "garbage\n");
  run.append({ iteration: 3 });
  assert.throws(
    () => run.records(),
    (e: unknown) => e instanceof DataError && e.path === metricsPath && /line 2/.test(e.message),
  );
  run.close();
});

test("corrupt config.json is a DataError naming its path", () => {
  const store = freshStore();
  const run = store.open("linear", { c: 1 });
  run.close();
  const configPath = path.join(run.dir, "config.json");
  fs.writeFileSync(configPath, "{ not json");
  assert.throws(
    () => store.open("linear", { c: 1 }),
    (e: unknown) => e instanceof DataError && e.path === configPath && e.message.includes(configPath),
  );
  // valid JSON but a different config than the key says
  fs.writeFileSync(configPath, JSON.stringify({ canonical: "something else" }));
  assert.throws(
    () => store.open("linear", { c: 1 }),
    (e: unknown) => e instanceof DataError && e.path === configPath && /different config/.test(e.message),
  );
  // neither error left the lock behind... the config check comes before locking
  assert.ok(!fs.existsSync(path.join(run.dir, "lock")));
});

test("done / finish / summary", () => {
  const store = freshStore();
  const run = store.open("linear", { d: 1 });
  assert.equal(run.done, false);
  assert.equal(run.summary(), null);
  assert.ok(fs.existsSync(path.join(run.dir, "lock")));
  run.append({ iteration: 1 });
  run.finish({ meanTestError: [1.5, 2.25], theory: null });
  assert.equal(run.done, true);
  assert.deepEqual(run.summary(), { meanTestError: [1.5, 2.25], theory: null });
  assert.ok(!fs.existsSync(path.join(run.dir, "lock")), "finish releases the lock");
  const again = store.open("linear", { d: 1 });
  assert.equal(again.done, true);
  assert.deepEqual(again.summary(), { meanTestError: [1.5, 2.25], theory: null });
  assert.deepEqual(again.records(), [{ iteration: 1 }]);
  again.close();
  // a non-finite summary is refused and the run stays unfinished
  const other = store.open("linear", { d: 2 });
  assert.throws(() => other.finish({ x: NaN }), /non-finite/);
  assert.equal(other.done, false);
  other.close();
  // a corrupt done.json is a DataError naming it
  fs.writeFileSync(path.join(run.dir, "done.json"), "{");
  assert.throws(
    () => run.summary(),
    (e: unknown) => e instanceof DataError && e.path === path.join(run.dir, "done.json"),
  );
});

test("the lock names its owner; close releases it", () => {
  const store = freshStore();
  const run = store.open("linear", { l: 0 });
  const lockPath = path.join(run.dir, "lock");
  assert.equal(fs.readFileSync(lockPath, "utf8"), String(process.pid));
  run.close();
  assert.ok(!fs.existsSync(lockPath));
  run.close(); // idempotent
  // close of a Run that does not hold the lock must not remove someone else's lock
  const r2 = store.open("linear", { l: 0 });
  run.close();
  assert.ok(fs.existsSync(lockPath));
  r2.close();
});

test("a lock held by a live foreign process is an error naming its pid", async () => {
  const store = freshStore();
  const run = store.open("linear", { l: 1 });
  run.close();
  const lockPath = path.join(run.dir, "lock");
  const child = spawn("sleep", ["5"], { stdio: "ignore" });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", reject);
    });
    const pid = child.pid!;
    assert.ok(pid > 0 && pid !== process.pid);
    fs.writeFileSync(lockPath, String(pid));
    assert.throws(() => store.open("linear", { l: 1 }), new RegExp(`in use by process ${pid}\\b`));
    // the foreign lock is untouched
    assert.equal(fs.readFileSync(lockPath, "utf8"), String(pid));
  } finally {
    if (child.exitCode === null && child.pid) process.kill(child.pid, "SIGTERM");
  }
  await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once("exit", resolve)));
  // once that process is gone, the lock is taken over
  const later = store.open("linear", { l: 1 });
  assert.equal(fs.readFileSync(lockPath, "utf8"), String(process.pid));
  later.close();
});

test("a stale lock (dead pid, empty or garbage content) is taken over", () => {
  const store = freshStore();
  const run = store.open("linear", { l: 2 });
  run.close();
  const lockPath = path.join(run.dir, "lock");
  const dead = spawnSync("true");
  assert.equal(dead.status, 0);
  assert.ok(dead.pid > 0);
  for (const content of [String(dead.pid), "", "not-a-pid", "-1", "0"]) {
    fs.writeFileSync(lockPath, content);
    const r = store.open("linear", { l: 2 });
    assert.equal(fs.readFileSync(lockPath, "utf8"), String(process.pid), `lock content ${JSON.stringify(content)}`);
    r.close();
    assert.ok(!fs.existsSync(lockPath));
  }
});

test("writeArtifact / readArtifact round-trip; names with '/' are rejected", () => {
  const store = freshStore();
  const run = store.open("linear", { art: 1 });
  const bytes = new Uint8Array([0, 1, 2, 255, 128, 7]);
  const p = run.writeArtifact("synthetic-1.bin", bytes);
  assert.equal(p, path.join(run.dir, "artifacts", "synthetic-1.bin"));
  assert.equal(run.artifactPath("synthetic-1.bin"), p);
  assert.deepEqual(new Uint8Array(run.readArtifact("synthetic-1.bin")!), bytes);
  run.writeArtifact("note.txt", "héllo");
  assert.equal(run.readArtifact("note.txt")!.toString("utf8"), "héllo");
  // overwrite
  run.writeArtifact("note.txt", "bye");
  assert.equal(run.readArtifact("note.txt")!.toString("utf8"), "bye");
  assert.equal(run.readArtifact("missing.bin"), null);
  // no temporary files are left behind
  assert.deepEqual(fs.readdirSync(path.join(run.dir, "artifacts")).sort(), ["note.txt", "synthetic-1.bin"]);
  for (const bad of ["a/b", "../x", "/etc/passwd", "..", ".hidden", "", "a\\b", "sp ace"]) {
    assert.throws(() => run.writeArtifact(bad, "x"), /bad artifact name/, bad);
    assert.throws(() => run.readArtifact(bad), /bad artifact name/, bad);
  }
  assert.ok(!fs.existsSync(path.join(run.dir, "a")));
  assert.ok(!fs.existsSync(path.join(run.dir, "x")));
  run.close();
});

test("writeFileAtomic creates parent directories and replaces content", () => {
  const store = freshStore();
  const file = path.join(store.root, "deep", "er", "f.json");
  writeFileAtomic(file, "1");
  writeFileAtomic(file, new Uint8Array([50]));
  assert.equal(fs.readFileSync(file, "utf8"), "2");
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ["f.json"]);
});

test("RunStore.fromEnv honours COLLAPSE_RUNS_DIR", () => {
  const store = freshStore();
  assert.equal(RunStore.fromEnv({ COLLAPSE_RUNS_DIR: store.root }).root, path.resolve(store.root));
  assert.ok(RunStore.fromEnv({}).root.endsWith(path.sep + "runs"));
});
