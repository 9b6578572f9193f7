import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { packageRoot } from "../src/environment";

// The library's layering, checked on the import statements of src/: a modality folder holds only
// what is its own, so adding a modality never touches another one.

const SRC = path.join(packageRoot(), "src");
/** One folder per modality: its model, loss and modality adapter. */
const MODALITIES = ["lm", "vae", "molecules", "gaussian", "linear"];
/** Data folders: datasets, tokenizers and image IO that any model of that data could use. */
const DATA = ["text", "images"];
/** Generic layers every modality may use. */
const GENERIC = ["nn", "backend", "collapse", "metrics", "store", "plots"];

function importsOf(folder: string): { file: string; target: string }[] {
  const out: { file: string; target: string }[] = [];
  const dir = path.join(SRC, folder);
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith(".ts")) continue;
    const text = fs.readFileSync(path.join(dir, name), "utf8");
    for (const m of text.matchAll(/(?:from|import\()\s*"(\.\.?\/[^"]+)"/g)) {
      const resolved = path.relative(SRC, path.resolve(dir, m[1]));
      out.push({ file: `${folder}/${name}`, target: resolved.split(path.sep)[0] });
    }
  }
  return out;
}

test("no modality folder imports from another modality folder, nor from experiments or the CLI", () => {
  const offenders: string[] = [];
  for (const folder of MODALITIES) {
    for (const { file, target } of importsOf(folder)) {
      if (target !== folder && (MODALITIES.includes(target) || ["experiments", "commands", "cli"].includes(target))) offenders.push(`${file} → ${target}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test("data and generic folders import no modality folder", () => {
  const offenders: string[] = [];
  for (const folder of [...DATA, ...GENERIC]) {
    for (const { file, target } of importsOf(folder)) if (MODALITIES.includes(target) || ["experiments", "commands"].includes(target)) offenders.push(`${file} → ${target}`);
  }
  assert.deepEqual(offenders, []);
});

test("the import checker sees the imports it checks", () => {
  const lm = importsOf("lm").map((i) => i.target);
  assert.ok(lm.includes("nn") && lm.includes("lm"), `lm's imports: ${[...new Set(lm)].join(", ")}`);
});
