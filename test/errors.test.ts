import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, DataError, deserializeError, serializeError } from "../src/errors";

test("errors keep what they name across a process boundary (worker → parent)", () => {
  // What a worker sends goes through IPC as plain data: a JSON round trip is the strictest stand-in.
  const across = (e: unknown) => deserializeError(JSON.parse(JSON.stringify(serializeError(e))));

  const config = across(new ConfigError("train.batchSize", "must be ≥ 1, got 0"));
  assert.ok(config instanceof ConfigError);
  assert.equal(config.field, "train.batchSize");
  assert.equal(config.detail, "must be ≥ 1, got 0");
  assert.equal(config.message, "invalid config: train.batchSize: must be ≥ 1, got 0");

  const data = across(new DataError("/data/x.msgpack", "truncated: 12 bytes short"));
  assert.ok(data instanceof DataError);
  assert.equal(data.path, "/data/x.msgpack");
  assert.equal(data.detail, "truncated: 12 bytes short");
  assert.equal(data.message, "/data/x.msgpack: truncated: 12 bytes short");

  const other = across(new RangeError("out of memory"));
  assert.ok(!(other instanceof ConfigError) && !(other instanceof DataError));
  assert.equal(other.message, "out of memory");
  assert.equal(across("a thrown string").message, "a thrown string");
});
