import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
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

/** A strict RFC 4180 reader (quoted cells may hold commas, doubled quotes and newlines), independent of the writer. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') {
      assert.equal(cell, "", `a quote inside an unquoted cell at offset ${i}`);
      quoted = true;
    } else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += ch;
  }
  assert.equal(quoted, false, "unterminated quoted cell");
  assert.equal(row.length + cell.length, 0, "the last row does not end in a newline");
  return rows;
}

/** The rows Python's csv module reads from `file` (a standard reader, independent of the kit's writer). */
export function pythonCsvRows(file: string): string[][] {
  const r = spawnSync("python3", ["-c", "import csv, json, sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline='')))))", file], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[][];
}
