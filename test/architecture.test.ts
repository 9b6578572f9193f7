import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { packageRoot } from "../src/environment";

// The library's layering, checked on the import statements of src/: a modality folder holds only
// what is its own, so adding a modality never touches another one.

const SRC = path.join(packageRoot(), "src");
/** One folder per modality: its model, loss and modality adapter. */
const MODALITIES = ["lm", "vae", "molecules", "gaussian", "kde", "linear"];
/** Data folders: datasets, tokenizers and image IO that any model of that data could use. */
const DATA = ["text", "images"];
/** Generic layers every modality may use. */
const GENERIC = ["nn", "backend", "collapse", "metrics", "store", "plots"];

/** The src/ folder (or top-level file) each relative import of `text`, a file in `folder`, reaches. */
function importTargets(folder: string, text: string): string[] {
  const dir = path.join(SRC, folder);
  return [...text.matchAll(/(?:from|import\()\s*"(\.\.?\/[^"]+)"/g)].map((m) => path.relative(SRC, path.resolve(dir, m[1])).split(path.sep)[0]);
}

function importsOf(folder: string): { file: string; target: string }[] {
  const out: { file: string; target: string }[] = [];
  const dir = path.join(SRC, folder);
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith(".ts")) continue;
    for (const target of importTargets(folder, fs.readFileSync(path.join(dir, name), "utf8"))) out.push({ file: `${folder}/${name}`, target });
  }
  return out;
}

/** Layers that run any modality through its spec: they may name none (no import, no quoted name). */
const SPEC_DRIVEN = ["collapse", "commands", "sweep"];
const SPEC_DRIVEN_FILES = ["cli.ts"];

/** Why a file of a spec-driven layer is not generic: the modality folders it imports, the modality names it quotes. */
function modalityMentions(folder: string, text: string, modalities: readonly string[]): string[] {
  const imported = importTargets(folder, text).filter((t) => modalities.includes(t));
  const quoted = modalities.filter((m) => text.includes(`"${m}"`) || text.includes(`'${m}'`));
  return [...imported.map((t) => `imports ${t}/`), ...quoted.map((m) => `names "${m}"`)];
}

function specDrivenFiles(): { folder: string; file: string; text: string }[] {
  const files = SPEC_DRIVEN.flatMap((folder) =>
    fs
      .readdirSync(path.join(SRC, folder))
      .filter((n) => n.endsWith(".ts"))
      .map((n) => ({ folder, file: `${folder}/${n}`, text: fs.readFileSync(path.join(SRC, folder, n), "utf8") })),
  );
  return [...files, ...SPEC_DRIVEN_FILES.map((f) => ({ folder: ".", file: f, text: fs.readFileSync(path.join(SRC, f), "utf8") }))];
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

test("the CLI, sweeps and the sequence runners know modalities only through the registry", () => {
  // linear is no sequence modality (a Monte-Carlo grid beside its closed forms): `collapse linear` is its own command.
  const sequenceModalities = MODALITIES.filter((m) => m !== "linear");
  const offenders = specDrivenFiles().flatMap(({ folder, file, text }) => modalityMentions(folder, text, sequenceModalities).map((why) => `${file} ${why}`));
  assert.deepEqual(offenders, []);
});

test("every modality with a spec is registered by one line of src/modalities.ts, and nothing else is there", () => {
  const registry = fs.readFileSync(path.join(SRC, "modalities.ts"), "utf8");
  const withSpec = MODALITIES.filter((m) => fs.existsSync(path.join(SRC, m, "spec.ts")));
  assert.deepEqual(withSpec, ["lm", "vae", "molecules", "gaussian", "kde"]);
  for (const m of withSpec) assert.match(registry, new RegExp(`^import \\{ [A-Z_]+ \\} from "\\./${m}/spec";$`, "m"), `${m}'s spec is imported`);
  const registrations = [...registry.matchAll(/^registerModality\((\w+)\);$/gm)].map((m) => m[1]);
  assert.equal(registrations.length, withSpec.length, "one registration line per modality");
  assert.deepEqual(importTargets(".", registry).filter((t) => MODALITIES.includes(t)).sort(), [...withSpec].sort(), "it imports each spec and nothing else of a modality");
});

test("the checks fail for a toy modality wired in anywhere but its folder and its registration line", () => {
  // What adding a "die" modality the old way would take: a case in the CLI, an import in sweep/.
  const toy = [...MODALITIES, "die"];
  assert.deepEqual(modalityMentions(".", 'case "die":\n  return runDie(rest);', toy), ['names "die"']);
  assert.deepEqual(modalityMentions("sweep", 'import { DIE } from "../die/spec";', toy), ["imports die/"]);
  assert.deepEqual(modalityMentions("commands", 'const spec = modalitySpec(name);', toy), [], "the registry's way names none");
});
