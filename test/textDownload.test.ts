import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { DataError } from "../src/errors";
import { OfflineError, formatDocuments, loadCorpus, readDocuments, tinyStoriesFiles, type TinyStoriesOptions } from "../src/text";
import { tempDir } from "./helpers";

// A local stand-in for the Hugging Face dataset repo: /ok serves both files, /cut drops the
// connection halfway, /stall stops sending, /chunked omits Content-Length, anything else is a 404.
const trainDocs = Array.from({ length: 400 }, (_, i) => `Once there was story ${i}.\nIt had two lines.`);
const validDocs = ["A valid story.", "Another valid story."];
const bodies: Record<string, Buffer> = {
  "TinyStories-train.txt": Buffer.from(formatDocuments(trainDocs).replace(/\n/g, "\r\n")),
  "TinyStories-valid.txt": Buffer.from(formatDocuments(validDocs)),
};
const requests: string[] = [];
let base = "";
const server = http.createServer((req, res) => {
  requests.push(req.url ?? "");
  const [, mode, name] = (req.url ?? "").split("/");
  const body = bodies[name];
  if (!body) return void res.writeHead(404).end("not found");
  if (mode === "chunked") return void res.writeHead(200).end(body);
  res.writeHead(200, { "Content-Length": body.length });
  if (mode === "ok") res.end(body);
  else if (mode === "cut") res.write(body.subarray(0, body.length >> 1), () => res.destroy());
  else if (mode === "stall") res.write(body.subarray(0, body.length >> 1)); // and never finishes
  else res.end();
});

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const quiet = { progress: false as const };
const cacheFiles = (cacheDir: string) => fs.readdirSync(path.join(cacheDir, "tinystories")).sort();

test("download: both files into the cache with a progress bar; a second call uses the cache", async () => {
  const cacheDir = tempDir("dl");
  const renders: { text: string; final: boolean }[] = [];
  const opts: TinyStoriesOptions = { baseUrl: `${base}/ok/`, cacheDir, progress: { render: (text, _f, final) => renders.push({ text, final }), minIntervalMs: 0 }, env: {} };
  requests.length = 0;
  const files = await tinyStoriesFiles(opts);
  assert.equal(files.source, "download");
  assert.deepEqual(requests, ["/ok/TinyStories-valid.txt", "/ok/TinyStories-train.txt"]);
  assert.deepEqual(fs.readFileSync(files.train), bodies["TinyStories-train.txt"]);
  assert.deepEqual(await readDocuments(files.train), trainDocs);
  assert.deepEqual(await readDocuments(files.valid), validDocs);
  assert.deepEqual(cacheFiles(cacheDir), ["TinyStories-train.txt", "TinyStories-valid.txt"]); // no temp files left
  assert.equal(renders.filter((r) => r.final).length, 2);
  assert.match(renders.find((r) => r.final)!.text, /download TinyStories-valid\.txt/);

  const again = await tinyStoriesFiles(opts);
  assert.equal(again.source, "cache");
  assert.equal(requests.length, 2, "the cache must not be downloaded again");
  // Through loadCorpus, and with the URL and cache directory from the environment.
  const c = await loadCorpus("tinystories", { ...quiet, env: { COLLAPSE_TINYSTORIES_URL: `${base}/ok`, COLLAPSE_DATA_DIR: cacheDir }, trainDocuments: 5 });
  assert.deepEqual(c, { train: trainDocs.slice(0, 5), valid: validDocs });
  assert.equal(requests.length, 2);
});

test("download: without Content-Length it still completes", async () => {
  const cacheDir = tempDir("dl");
  const files = await tinyStoriesFiles({ baseUrl: `${base}/chunked`, cacheDir, ...quiet, env: {} });
  assert.deepEqual(await readDocuments(files.valid), validDocs);
});

test("download: an interrupted or stalled transfer leaves nothing that looks complete", async () => {
  for (const mode of ["cut", "stall"]) {
    const cacheDir = tempDir("dl");
    const started = Date.now();
    const pending = tinyStoriesFiles({ baseUrl: `${base}/${mode}`, cacheDir, ...quiet, idleTimeoutMs: 300, env: {} });
    if (mode === "stall") {
      // While the transfer hangs, the bytes so far sit in a temporary file, not under the final name.
      const sub = path.join(cacheDir, "tinystories");
      while (!fs.existsSync(sub) || fs.readdirSync(sub).length === 0) await new Promise((r) => setTimeout(r, 10));
      assert.match(fs.readdirSync(sub).join(), /^TinyStories-valid\.txt\.part-/);
    }
    await assert.rejects(pending, (e) => e instanceof DataError && !(e instanceof OfflineError) && /interrupted/.test(e.message));
    assert.ok(Date.now() - started < 5000, mode);
    assert.deepEqual(cacheFiles(cacheDir), [], mode);
  }
});

test("download: an HTTP error is reported as such, not as offline", async () => {
  await assert.rejects(
    tinyStoriesFiles({ baseUrl: `${base}/ok/nothing-here`, cacheDir: tempDir("dl"), ...quiet, env: {} }),
    (e) => e instanceof DataError && !(e instanceof OfflineError) && /HTTP 404/.test(e.message),
  );
});

test("offline (connection refused) fails fast, naming --data embedded and COLLAPSE_TINYSTORIES_DIR", async () => {
  // A port that was just free: nothing listens there.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const cacheDir = tempDir("dl");
  const started = Date.now();
  await assert.rejects(tinyStoriesFiles({ baseUrl: `http://127.0.0.1:${port}`, cacheDir, ...quiet, env: {} }), (e) => {
    assert.ok(e instanceof OfflineError, String(e));
    assert.match(e.message, /--data embedded/);
    assert.match(e.message, /COLLAPSE_TINYSTORIES_DIR/);
    assert.match(e.message, /ECONNREFUSED/);
    return true;
  });
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  assert.equal(fs.existsSync(path.join(cacheDir, "tinystories", "TinyStories-valid.txt")), false);
});

test("a local copy (COLLAPSE_TINYSTORIES_DIR) is used as is and never downloads", async () => {
  const local = tempDir("local");
  for (const [name, body] of Object.entries(bodies)) fs.writeFileSync(path.join(local, name), body);
  requests.length = 0;
  const files = await tinyStoriesFiles({ env: { COLLAPSE_TINYSTORIES_DIR: local, COLLAPSE_TINYSTORIES_URL: `${base}/ok` }, ...quiet });
  assert.deepEqual(files, { train: path.join(local, "TinyStories-train.txt"), valid: path.join(local, "TinyStories-valid.txt"), source: "local" });
  assert.equal(requests.length, 0);
  fs.rmSync(path.join(local, "TinyStories-valid.txt"));
  await assert.rejects(tinyStoriesFiles({ localDir: local, ...quiet }), (e) => e instanceof DataError && e.path.endsWith("TinyStories-valid.txt"));
});
