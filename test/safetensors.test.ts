import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { DataError } from "../src/errors";
import { lmConfig, validateLmConfig } from "../src/lm/configs";
import { forward, initParams } from "../src/lm/model";
import { Rng } from "../src/random";
import { tempDir } from "./helpers";
import { disposeParams } from "../src/nn/params";
import { decodeSafetensors, encodeSafetensors, loadParams, readSafetensors, saveParams, writeSafetensors } from "../src/nn/safetensors";

/** A safetensors file built by hand: u64 LE header length, header JSON, raw LE data. */
function handBuilt(headerJson: string, data: number[]): Buffer {
  const header = Buffer.from(headerJson, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header, Buffer.from(data)]);
}

// 1.5 = 0x3FC00000, -2 = 0xC0000000, 7 = 0x00000007, -1 = 0xFFFFFFFF (little-endian bytes below)
const A_BYTES = [0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0];
const B_BYTES = [0x07, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff];

test("the written bytes match a hand-built file exactly", () => {
  const json =
    '{"__metadata__":{"format":"pt"},' +
    '"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"b":{"dtype":"I32","shape":[1,2],"data_offsets":[8,16]}}';
  const padded = json + " ".repeat((8 - (json.length % 8)) % 8); // header padded to 8 bytes with spaces
  const expected = handBuilt(padded, [...A_BYTES, ...B_BYTES]);
  const written = encodeSafetensors(
    { b: { dtype: "I32", shape: [1, 2], data: Int32Array.from([7, -1]) }, a: { dtype: "F32", shape: [2], data: Float32Array.from([1.5, -2]) } },
    { format: "pt" },
  );
  assert.deepEqual(Buffer.from(written), expected);
  assert.equal(expected.readBigUInt64LE(0) % 8n, 0n);
});

test("reads a hand-built file with another tensor order, no padding and no metadata", () => {
  const json = '{"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"a":{"data_offsets":[8,16],"shape":[2,1],"dtype":"F32"}}';
  const file = decodeSafetensors(handBuilt(json, [...B_BYTES, ...A_BYTES]), "hand.safetensors");
  assert.deepEqual(file.metadata, {});
  assert.deepEqual(file.tensors.a.shape, [2, 1]);
  assert.equal(file.tensors.a.dtype, "F32");
  assert.deepEqual(Array.from(file.tensors.a.data), [1.5, -2]);
  assert.ok(file.tensors.b.data instanceof Int32Array);
  assert.deepEqual(Array.from(file.tensors.b.data), [7, -1]);
});

test("scalars and empty tensors round-trip", () => {
  const bytes = encodeSafetensors({
    s: { dtype: "F32", shape: [], data: Float32Array.from([3.25]) },
    e: { dtype: "I32", shape: [0, 4], data: new Int32Array(0) },
  });
  const back = decodeSafetensors(bytes, "x");
  assert.deepEqual(back.tensors.s.shape, []);
  assert.deepEqual(Array.from(back.tensors.s.data), [3.25]);
  assert.deepEqual(back.tensors.e.shape, [0, 4]);
  assert.equal(back.tensors.e.data.length, 0);
});

test("model params + config/tokenizer metadata round-trip through a file, bit for bit", () => {
  const dir = tempDir("safetensors");
  const file = path.join(dir, "model.safetensors");
  const config = lmConfig("llama2-smoke", 40);
  const params = initParams(config, Rng.fromSeed(1));
  const tokenizer = JSON.stringify({ merges: [[1, 2]], vocabSize: 40, note: "ünïcödé ✓" });
  saveParams(file, params, { config: JSON.stringify(config), tokenizer });
  assert.deepEqual(fs.readdirSync(dir), ["model.safetensors"], "no temporary file left behind");
  const { params: loaded, metadata } = loadParams(file);
  try {
    assert.equal(metadata.tokenizer, tokenizer);
    const config2 = validateLmConfig(JSON.parse(metadata.config));
    assert.deepEqual(config2, config);
    assert.deepEqual(Object.keys(loaded).sort(), Object.keys(params).sort());
    for (const [name, v] of Object.entries(params)) {
      assert.deepEqual(loaded[name].shape, v.shape, name);
      assert.deepEqual(loaded[name].dataSync(), v.dataSync(), name);
      assert.ok(loaded[name].trainable);
    }
    // and the loaded model computes the same logits
    const same = tf.tidy(() => {
      const tokens = tf.tensor2d([[1, 5, 9, 3]], undefined, "int32");
      const a = forward(config, params, tokens).dataSync();
      const b = forward(config2, loaded, tokens).dataSync();
      return a.every((x, i) => x === b[i]);
    });
    assert.ok(same);
  } finally {
    disposeParams(params);
    disposeParams(loaded);
  }
});

test("overwriting is atomic: the new file replaces the old, nothing else appears", () => {
  const dir = tempDir("safetensors-atomic");
  const file = path.join(dir, "w.safetensors");
  writeSafetensors(file, { x: { dtype: "F32", shape: [1], data: Float32Array.from([1]) } });
  writeSafetensors(file, { y: { dtype: "F32", shape: [2], data: Float32Array.from([2, 3]) } }, { k: "v" });
  assert.deepEqual(fs.readdirSync(dir), ["w.safetensors"]);
  const back = readSafetensors(file);
  assert.deepEqual(Object.keys(back.tensors), ["y"]);
  assert.deepEqual(back.metadata, { k: "v" });
});

test("invalid files are DataErrors naming the file and the problem", () => {
  const dir = tempDir("safetensors-bad");
  const good = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const cases: [string, Buffer, RegExp][] = [
    ["short", Buffer.from([1, 2, 3]), /too short/],
    ["hugeheader", (() => { const b = handBuilt(good, A_BYTES); b.writeBigUInt64LE(1n << 40n); return b; })(), /header length .* exceeds/],
    ["notjson", handBuilt("{not json", A_BYTES), /not JSON/],
    ["array", handBuilt("[1,2]", A_BYTES), /not a JSON object/],
    ["outofrange", handBuilt('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', A_BYTES), /outside the 8-byte data buffer/],
    ["mismatch", handBuilt('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', A_BYTES), /needs 12 bytes, data_offsets span 8/],
    ["reversed", handBuilt('{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}', A_BYTES), /outside/],
    ["dtype", handBuilt('{"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}', A_BYTES), /unsupported dtype "F16"/],
    ["shape", handBuilt('{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', A_BYTES), /bad shape/],
    ["gap", handBuilt('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', A_BYTES), /gap or overlap/],
    ["trailing", handBuilt('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', A_BYTES), /cover 4 of 8/],
    ["overlap", handBuilt('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', A_BYTES), /gap or overlap/],
    ["metadata", handBuilt('{"__metadata__":{"n":3},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', A_BYTES), /__metadata__.n is not a string/],
  ];
  for (const [name, bytes, pattern] of cases) {
    const file = path.join(dir, `${name}.safetensors`);
    fs.writeFileSync(file, bytes);
    assert.throws(
      () => readSafetensors(file),
      (e: unknown) => e instanceof DataError && e.path === file && e.message.startsWith(file) && pattern.test(e.message),
      name,
    );
  }
  // the good header itself is accepted
  fs.writeFileSync(path.join(dir, "good.safetensors"), handBuilt(good, A_BYTES));
  assert.deepEqual(Array.from(readSafetensors(path.join(dir, "good.safetensors")).tensors.a.data), [1.5, -2]);
  // a missing file, and params that are not F32
  assert.throws(() => readSafetensors(path.join(dir, "missing.safetensors")), (e: unknown) => e instanceof DataError && /cannot read/.test(e.message));
  const ints = path.join(dir, "ints.safetensors");
  writeSafetensors(ints, { w: { dtype: "I32", shape: [2], data: Int32Array.from([1, 2]) } });
  assert.throws(() => loadParams(ints), (e: unknown) => e instanceof DataError && /must be F32/.test(e.message));
});

test("encoding refuses inconsistent tensors", () => {
  assert.throws(() => encodeSafetensors({ a: { dtype: "F32", shape: [3], data: new Float32Array(2) } }), /holds 3 values/);
  assert.throws(() => encodeSafetensors({ a: { dtype: "I32", shape: [2], data: new Float32Array(2) } }), /does not match/);
  assert.throws(() => encodeSafetensors({ __metadata__: { dtype: "F32", shape: [1], data: new Float32Array(1) } }), /__metadata__/);
});
