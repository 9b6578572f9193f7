import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after } from "node:test";
import { packageRoot } from "../src/environment";
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

/** The kit's command line. */
export const BIN = path.join(packageRoot(), "bin", "collapse.js");

/** Runs the kit's command line to its end (`env` over this process's environment). */
export function collapse(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Why the Slurm tests cannot run here, or null when a controller answers and a node is up. */
export function slurmUnavailable(): string | null {
  const sbatch = spawnSync("sbatch", ["--version"], { encoding: "utf8" });
  if (sbatch.error) return "sbatch is not on PATH (scripts/test.sh starts a one-node cluster with scripts/setup-slurm.sh when run as root on Debian)";
  const sinfo = spawnSync("sinfo", ["-h", "-o", "%T"], { encoding: "utf8", timeout: 20_000 });
  if (sinfo.status !== 0) return `sinfo fails: ${(sinfo.stderr || "").trim().split("\n")[0]} (is slurmctld running? bash scripts/setup-slurm.sh)`;
  if (!/idle|mixed|allocated|completing/.test(sinfo.stdout)) return `no usable Slurm node (sinfo: ${sinfo.stdout.trim() || "none"})`;
  return null;
}
