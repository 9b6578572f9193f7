import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after } from "node:test";
import { ConfigError } from "../src/errors";
import { RunStore } from "../src/store/runStore";

/** The field a ConfigError names; fails the test if `fn` throws anything else or nothing. */
export function configErrorField(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    return e.field;
  }
  assert.fail("expected a ConfigError, nothing was thrown");
}

const tmpRoots: string[] = [];
after(() => {
  for (const d of tmpRoots) fs.rmSync(d, { recursive: true, force: true });
});

/** A temporary directory, removed when the test file finishes. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `collapse-${prefix}-`));
  tmpRoots.push(dir);
  return dir;
}

/** A run store in a fresh temporary directory. */
export function freshStore(prefix = "store"): RunStore {
  return new RunStore(tempDir(prefix));
}
