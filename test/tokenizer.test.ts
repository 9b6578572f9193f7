import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "../src/errors";
import { Rng } from "../src/random";
import { BpeTokenizer, EOT_ID, EOT_TEXT, generateStories, loadTokenizer, pretokenize, saveTokenizer, trainBpe } from "../src/text";
import { validUtf8 } from "../src/text/bpe";
import { configErrorField, tempDir } from "./helpers";

// ~0.65 MB of embedded stories: enough for vocab 1024 in well under a second.
const docs = generateStories(1000, Rng.fromSeed(11)).map((s) => s.text);
const tok = trainBpe(docs, { vocabSize: 1024 });
const bytesOf = (s: string) => Buffer.byteLength(s, "utf8");

/** A random string of valid Unicode: ASCII, Latin, CJK, emoji (surrogate pairs), combining marks, whitespace. */
function randomUnicode(rng: Rng, length: number): string {
  const ranges: [number, number][] = [[0x20, 0x7e], [0x00, 0x1f], [0xa0, 0x24f], [0x300, 0x36f], [0x4e00, 0x9fff], [0x1f600, 0x1f64f], [0x10000, 0x10ffff], [0xe000, 0xfffd]];
  let s = "";
  for (let i = 0; i < length; i++) {
    const [lo, hi] = ranges[rng.int(ranges.length)];
    s += rng.uniform() < 0.15 ? " " : String.fromCodePoint(lo + rng.int(hi - lo + 1));
  }
  return s;
}

test("exact round-trip: stories, random Unicode (multi-byte, emoji, BOM), odd whitespace", () => {
  for (const d of docs.slice(0, 100)) assert.equal(tok.decode(tok.encode(d)), d);
  const rng = Rng.fromSeed(3);
  for (let i = 0; i < 300; i++) {
    const s = randomUnicode(rng, 1 + rng.int(60));
    assert.equal(tok.decode(tok.encode(s)), s, JSON.stringify(s));
    assert.equal(pretokenize(s).join(""), s); // chunks cover the text exactly
  }
  for (const s of ["", " ", "\n\n\t  x", "\uFEFFbom first", "don't 'quote' it's", "12345 1.5e-3", "naïve café Ωμέγα", "👩‍👩‍👧 family", "e\u0301"]) {
    assert.equal(tok.decode(tok.encode(s)), s, JSON.stringify(s));
  }
});

test("pre-tokenization: words keep one leading space, digits in threes, merges stay inside chunks", () => {
  assert.deepEqual(pretokenize("Hi there,  friend! 12345 don't"), ["Hi", " there", ",", " ", " friend", "!", " 123", "45", " don", "'t"]);
  // Every token of an encoded text lies inside one chunk: decoding chunk by chunk gives the same ids.
  const text = docs[0];
  const byChunk = pretokenize(text).flatMap((c) => Array.from(tok.encode(c)));
  assert.deepEqual(Array.from(tok.encode(text)), byChunk);
});

test("vocabulary size is exactly the requested one; bad sizes are ConfigErrors", () => {
  for (const v of [257, 300, 1024]) assert.equal(trainBpe(docs.slice(0, 300), { vocabSize: v }).vocabSize, v);
  assert.equal(tok.vocabSize, 1024);
  let maxId = 0;
  for (const d of docs) for (const id of tok.encode(d)) maxId = Math.max(maxId, id);
  assert.equal(maxId, 1023, "the last merge is used");
  for (const bad of [256, 100, 1.5, 40000]) assert.equal(configErrorField(() => trainBpe(docs, { vocabSize: bad })), "vocabSize");
  // With too little text to merge, training stops early rather than inventing tokens.
  assert.equal(trainBpe(["ab ab ab abc"], { vocabSize: 300 }).vocabSize, 260);
});

test("training is deterministic, merges the most frequent pair first, and breaks ties by id", () => {
  assert.deepEqual(trainBpe(docs, { vocabSize: 1024 }).toJSON(), tok.toJSON());
  // "ab" ×4, " a" ×3, "bc" ×1: (a,b) then (" ",ab) then (" ab",c).
  assert.deepEqual(trainBpe(["ab ab ab abc"], { vocabSize: 300 }).toJSON().merges, [[97, 98], [32, 257], [258, 99]]);
  // All pairs once: the smaller (left, right) wins: (" ",c) < (a,b); then (a,b); then (" c",d).
  assert.deepEqual(trainBpe(["ab cd"], { vocabSize: 300 }).toJSON().merges, [[32, 99], [97, 98], [257, 100]]);
  // Frequency beats order: "zz" twice beats "ab" once.
  assert.deepEqual(trainBpe(["ab", "zz", "zz"], { vocabSize: 258 }).toJSON().merges, [[122, 122]]);
});

test("merges compress: fewer tokens than bytes (ratio reported)", () => {
  const valid = generateStories(200, Rng.fromSeed(12)).map((s) => s.text); // not seen in training
  let bytes = 0;
  let tokens = 0;
  const started = process.hrtime.bigint();
  for (const d of valid) {
    bytes += bytesOf(d);
    tokens += tok.encode(d).length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const ratio = bytes / tokens;
  console.log(`# BPE vocab 1024 on held-out stories: ${ratio.toFixed(2)} bytes/token, ${(tokens / seconds / 1e6).toFixed(2)} M tokens/s`);
  assert.ok(ratio > 3, `${ratio}`);
  // A bigger vocabulary compresses more.
  const small = trainBpe(docs, { vocabSize: 300 });
  const smallTokens = valid.reduce((n, d) => n + small.encode(d).length, 0);
  assert.ok(smallTokens > tokens && smallTokens < bytes, `${smallTokens} vs ${tokens} vs ${bytes}`);
});

test("special token: only encodeDocument adds EOT; the literal text stays plain bytes", () => {
  const text = `Before ${EOT_TEXT} after`;
  const plain = tok.encode(text);
  assert.ok(!plain.includes(EOT_ID));
  assert.equal(tok.decode(plain), text);
  const doc = tok.encodeDocument("A story.");
  assert.equal(doc[doc.length - 1], EOT_ID);
  assert.deepEqual(Array.from(doc.subarray(0, -1)), Array.from(tok.encode("A story.")));
  assert.equal(doc.filter((id) => id === EOT_ID).length, 1);
  assert.equal(tok.decode(doc), "A story." + EOT_TEXT);
  assert.equal(tok.decode(doc, { skipSpecial: true }), "A story.");
  const stream = tok.encodeDocuments(["One.", `Two ${EOT_TEXT}.`]);
  assert.equal(stream.filter((id) => id === EOT_ID).length, 2);
  assert.equal(EOT_ID, 256);
  assert.throws(() => tok.decode([tok.vocabSize]), RangeError);
  assert.throws(() => tok.decode([-1]), RangeError);
  // Bytes that are not valid UTF-8 (a model may emit them) are dropped: never a replacement character.
  assert.equal(tok.decode([0xff, 0x41]), "A");
});

test("decoding drops exactly the bytes that are not well-formed UTF-8, and keeps every real character", () => {
  const bytes = (s: string) => [...Buffer.from(s, "utf8")];
  const cases: [number[], string][] = [
    [[...bytes("caf"), 0xc3, ...bytes("e")], "cafe"], // half of "é", then ASCII
    [[...bytes("ok "), 0xe2, 0x80], "ok "], // a 3-byte character cut off at the end
    [[0x80, ...bytes("a"), 0xbf], "a"], // stray continuation bytes
    [[0xc0, 0xaf, ...bytes("b")], "b"], // overlong "/"
    [[0xed, 0xa0, 0x80, ...bytes("c")], "c"], // a UTF-16 surrogate
    [[0xf4, 0x90, 0x80, 0x80, ...bytes("d")], "d"], // above U+10FFFF
    [bytes("é€😀\uFFFD\uFEFFx"), "é€😀\uFFFD\uFEFFx"], // 2-, 3-, 4-byte characters, a real U+FFFD and BOM
  ];
  for (const [ids, text] of cases) assert.equal(tok.decode(ids), text, JSON.stringify(ids));
  assert.deepEqual([...validUtf8(Uint8Array.from([0x41, 0xe2, 0x82, 0xac]))], [0x41, 0xe2, 0x82, 0xac]);
  for (const s of ["plain", "naïve café — 😀", ""]) assert.equal(tok.decode(tok.encode(s)), s, "valid text round-trips");
});

test("save/load round-trip; corrupt or incompatible files are DataErrors", () => {
  const dir = tempDir("bpe");
  const file = path.join(dir, "tokenizer.json");
  saveTokenizer(tok, file);
  const loaded = loadTokenizer(file);
  assert.equal(loaded.vocabSize, tok.vocabSize);
  assert.deepEqual(loaded.toJSON(), tok.toJSON());
  for (const d of docs.slice(0, 50)) assert.deepEqual(loaded.encode(d), tok.encode(d));
  assert.deepEqual(BpeTokenizer.fromJSON(JSON.parse(JSON.stringify(tok))).toJSON(), tok.toJSON());

  const good = tok.toJSON();
  const variants: [string, unknown][] = [
    ["not an object", 42],
    ["wrong format", { ...good, format: "sentencepiece" }],
    ["future version", { ...good, version: 2 }],
    ["other pretokenizer", { ...good, pretokenizer: "whitespace" }],
    ["moved EOT", { ...good, eot: { id: 0, text: EOT_TEXT } }],
    ["forward reference", { ...good, merges: [[300, 1], ...good.merges.slice(1)] }],
    ["merge uses EOT", { ...good, merges: [[EOT_ID, 1], ...good.merges.slice(1)] }],
    ["bad merge shape", { ...good, merges: [[1], ...good.merges.slice(1)] }],
    ["size mismatch", { ...good, vocabSize: good.vocabSize + 1 }],
    ["no merges", { ...good, merges: undefined }],
  ];
  for (const [label, json] of variants) {
    assert.throws(() => BpeTokenizer.fromJSON(json, "run/tokenizer.json"), (e) => e instanceof DataError && e.path === "run/tokenizer.json", label);
  }
  fs.writeFileSync(file, JSON.stringify(good).slice(0, 100));
  assert.throws(() => loadTokenizer(file), (e) => e instanceof DataError && e.path === file);
  assert.throws(() => loadTokenizer(path.join(dir, "missing.json")), DataError);
});
