import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "../src/errors";
import {
  formatDocuments,
  formatDataSpec,
  iterateDocuments,
  loadCorpus,
  parseDataSpec,
  parseDocuments,
  readDocuments,
  splitDocuments,
} from "../src/text";
import { configErrorField, tempDir } from "./helpers";

const dir = tempDir("text");
let fileNo = 0;
function fixture(content: string | Buffer): string {
  const file = path.join(dir, `fixture-${fileNo++}.txt`);
  fs.writeFileSync(file, content);
  return file;
}

test("documents: LF and CRLF, trailing separator, empty documents dropped, paragraphs kept", async () => {
  const lf = "First story.\nSecond line.\n<|endoftext|>\n\n<|endoftext|>\n  \n<|endoftext|>\nThe next one.\n\nNew paragraph.\n<|endoftext|>\n";
  const want = ["First story.\nSecond line.", "The next one.\n\nNew paragraph."];
  assert.deepEqual(await readDocuments(fixture(lf)), want);
  assert.deepEqual(await readDocuments(fixture(lf.replace(/\n/g, "\r\n"))), want);
  assert.deepEqual(parseDocuments(lf), want);
  // A separator without a newline at EOF, and a last document with no separator at all.
  assert.deepEqual(await readDocuments(fixture("A.\n<|endoftext|>\nB.\n<|endoftext|>")), ["A.", "B."]);
  assert.deepEqual(await readDocuments(fixture("A.\r\n<|endoftext|>\r\nB.")), ["A.", "B."]);
  // Separator text inside a line is content, not a boundary.
  assert.deepEqual(parseDocuments("x <|endoftext|> y\n<|endoftext|>\n"), ["x <|endoftext|> y"]);
  assert.deepEqual(await readDocuments(fixture("")), []);
});

test("documents: multi-byte characters split across read chunks; limit stops reading early", async () => {
  // 3 MB of 4-byte emoji and 2-byte letters: the 1 MB read chunks cut through characters.
  const docs = Array.from({ length: 300 }, (_, i) => `Story ${i}: ` + "é😀ü".repeat(1500 + i));
  const file = fixture(formatDocuments(docs));
  assert.ok(fs.statSync(file).size > 3e6);
  // The first 1 MB read chunk ends inside a character (a UTF-8 continuation byte follows).
  assert.equal(fs.readFileSync(file)[1 << 20] & 0xc0, 0x80);
  assert.deepEqual(await readDocuments(file), docs);
  assert.deepEqual(await readDocuments(file, { limit: 7 }), docs.slice(0, 7));
  assert.deepEqual(await readDocuments(file, { limit: 0 }), []);
  // Breaking out of the iterator closes the file (no leaked stream keeps the test alive).
  let n = 0;
  for await (const d of iterateDocuments(file)) {
    assert.equal(d, docs[n]);
    if (++n === 3) break;
  }
  await assert.rejects(readDocuments(path.join(dir, "missing.txt")), (e) => e instanceof DataError && e.path.endsWith("missing.txt"));
});

test("formatDocuments round-trips through the parser and refuses documents that would not", () => {
  const docs = ["One.", "Two,\nwith a second line.", "Ünïcödé 😀"];
  assert.deepEqual(parseDocuments(formatDocuments(docs)), docs);
  assert.ok(formatDocuments(docs).endsWith("\n<|endoftext|>\n"));
  for (const bad of ["", " padded", "a\n<|endoftext|>\nb", "crlf\r\nline"]) assert.throws(() => formatDocuments(["ok", bad]), RangeError);
});

test("splitDocuments: seeded, disjoint, covers everything, keeps order", () => {
  const docs = Array.from({ length: 1000 }, (_, i) => `doc ${i}`);
  const a = splitDocuments(docs, 0.05, 3);
  assert.deepEqual(a, splitDocuments(docs, 0.05, 3));
  assert.notDeepEqual(a.valid, splitDocuments(docs, 0.05, 4).valid);
  assert.equal(a.valid.length, 50);
  assert.equal(a.train.length, 950);
  assert.deepEqual([...a.train, ...a.valid].sort(), [...docs].sort());
  const index = (d: string) => Number(d.slice(4));
  for (const part of [a.train, a.valid]) for (let i = 1; i < part.length; i++) assert.ok(index(part[i - 1]) < index(part[i]));
  // Tiny corpora still get one validation document and keep one for training.
  assert.equal(splitDocuments(["a", "b"], 0.05, 1).valid.length, 1);
  assert.equal(splitDocuments(["a", "b", "c"], 0.9, 1).train.length, 1);
  assert.equal(configErrorField(() => splitDocuments(docs, 1, 1)), "validFraction");
  assert.equal(configErrorField(() => splitDocuments(["only"], 0.5, 1)), "documents");
});

test("parseDataSpec: the three forms, and a ConfigError listing them otherwise", () => {
  assert.deepEqual(parseDataSpec("embedded"), { kind: "embedded" });
  assert.deepEqual(parseDataSpec("tinystories"), { kind: "tinystories" });
  assert.deepEqual(parseDataSpec("text:/data/my stories.txt"), { kind: "text", path: "/data/my stories.txt" });
  assert.equal(formatDataSpec(parseDataSpec("text:a.txt")), "text:a.txt");
  for (const bad of ["", "Embedded", "tiny", "text:", "text:  ", "file:x.txt", 3, null, undefined]) {
    assert.equal(configErrorField(() => parseDataSpec(bad)), "data", String(bad));
  }
  try {
    parseDataSpec("wikipedia");
    assert.fail("no error");
  } catch (e) {
    for (const form of ["embedded", "tinystories", "text:PATH", "wikipedia"]) assert.match((e as Error).message, new RegExp(form));
  }
  assert.equal(configErrorField(() => parseDataSpec("nope", "lm.data")), "lm.data");
});

test("loadCorpus: text:PATH split by document with a seeded 5% validation; embedded", async () => {
  const docs = Array.from({ length: 200 }, (_, i) => `Story number ${i}.`);
  const file = fixture(formatDocuments(docs));
  const c = await loadCorpus(`text:${file}`, { seed: 5 });
  assert.equal(c.valid.length, 10);
  assert.equal(c.train.length, 190);
  assert.deepEqual(c, await loadCorpus({ kind: "text", path: file }, { seed: 5 }));
  assert.deepEqual([...c.train, ...c.valid].sort(), [...docs].sort());
  // Limits cut each part without moving documents between parts.
  const capped = await loadCorpus(`text:${file}`, { seed: 5, trainDocuments: 20, validDocuments: 3 });
  assert.deepEqual(capped, { train: c.train.slice(0, 20), valid: c.valid.slice(0, 3) });

  const e = await loadCorpus("embedded", { seed: 1, embeddedDocuments: 100 });
  assert.equal(e.train.length + e.valid.length, 100);
  assert.equal(e.valid.length, 5);
  assert.ok(e.train.every((d) => !e.valid.includes(d)));
  await assert.rejects(loadCorpus("bogus"), /invalid config: data/);
});
