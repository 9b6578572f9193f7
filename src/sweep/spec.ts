import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { PROFILES, type Profile } from "../collapse/profiles";
import { type AnyModalitySpec, type SequenceConfig, checkSequence } from "../collapse/spec";
import { mergeConfig } from "../commands/sequenceCommand";
import { ConfigError, DataError } from "../errors";
import { modalityNames } from "../modalities";
import { canonicalJson } from "../store/runStore";
import { sweepModality } from "./commands";

/**
 * A sweep file (YAML or JSON): a command, a profile, fields merged over the profile's config, and a grid
 * of fields to vary; the sweep is every combination. See SWEEP_EXAMPLE for the format.
 */
export interface SweepSpec {
  /** The file it was read from, as given (errors name it so). */
  file: string;
  name: string;
  /** A registered modality's name (see src/modalities.ts). */
  command: string;
  profile: Profile;
  base: Record<string, unknown>;
  /** Field (dotted path) → the values it takes, in file order; `seeds: N` adds seed → 0..N-1. */
  grid: [string, unknown[]][];
  /** Whether the seed grid came from `seeds: N` (errors about a seed then name `seeds`). */
  seedsShorthand: boolean;
  slurm: SlurmOptions;
}

/** sbatch options of the job array (everything optional: the cluster's defaults). */
export interface SlurmOptions {
  partition?: string;
  /** Wall-time limit per task, in sbatch's syntax (e.g. "2:00:00"). */
  time?: string;
  gpusPerTask?: number;
  cpusPerTask?: number;
  /** Memory per node, in sbatch's syntax (e.g. "16G"). */
  mem?: string;
  /** At most this many array tasks at once (sbatch's --array=...%N). */
  maxConcurrent?: number;
  /** Seconds before the time limit Slurm sends the task USR1 (--signal=B:USR1@N), to checkpoint and requeue (default 180). */
  signalSeconds?: number;
  /** More sbatch arguments, one per item (e.g. ["--account=proj", "--qos=short"]). */
  extraArgs?: string[];
}

/** A sequence config as a sweep holds it: any modality's, by field. */
export type SweepConfig = SequenceConfig & Record<string, unknown>;

/** One sequence of a sweep: its position, the grid values that made it, and its full config. */
export interface SweepEntry {
  index: number;
  command: string;
  /** Grid field → this sequence's value (the sweep's table columns). */
  values: Record<string, unknown>;
  config: SweepConfig;
}

export const SWEEP_EXAMPLE = `# 2 strategies × 2 seeds of smoke-sized VAEs, seconds each (sweeps/example-smoke.yaml is a shorter one)
name: example-smoke          # the sweep's directory: <runs>/sweeps/<name>-<hash>/ (default: file name)
command: vae                 # ${modalityNames().join(" | ")}
profile: smoke               # ${PROFILES.join(" | ")}: the base config
base:                        # fields merged over the profile's config (as collapse vae --config)
  iterations: 2
  train.epochs: 2            # dotted paths reach nested fields (or write train: {epochs: 2})
grid:                        # every combination of these lists
  strategy: [replace, accumulate]
seeds: 2                     # shorthand for grid seed: [0, 1]
slurm:                       # only for --executor slurm; all optional
  partition: debug
  time: "0:10:00"
  cpusPerTask: 1
  mem: 2G
  gpusPerTask: 0
  maxConcurrent: 4           # --array=...%4
  signalSeconds: 180         # USR1 this long before the time limit: the task checkpoints, requeues
  extraArgs: ["--qos=normal"]`;

const TOP_KEYS = ["name", "command", "profile", "base", "grid", "seeds", "slurm"] as const;
const SLURM_KEYS = ["partition", "time", "gpusPerTask", "cpusPerTask", "mem", "maxConcurrent", "signalSeconds", "extraArgs"] as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Reads and checks a sweep file's format (not yet its configs: see expandSweep). */
export function readSweepFile(file: string): SweepSpec {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new DataError(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseSweep(text, file);
}

/** Parses a sweep file's text; `file` names it in errors, and its extension picks JSON (.json) or YAML. */
export function parseSweep(text: string, file: string): SweepSpec {
  let raw: unknown;
  if (file.endsWith(".json")) {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new DataError(file, `is not valid JSON: ${(e as Error).message}`);
    }
  } else {
    // uniqueKeys: a key given twice is an error, not a silent override.
    const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
    if (doc.errors.length > 0) throw new DataError(file, `is not valid YAML: ${doc.errors[0].message.split("\n")[0]}`);
    raw = doc.toJS();
  }
  const fail = (field: string, detail: string) => new DataError(file, `${field}: ${detail}`);
  if (!isPlainObject(raw)) throw new DataError(file, "must hold a mapping with command, profile and grid");
  for (const key of Object.keys(raw)) if (!(TOP_KEYS as readonly string[]).includes(key)) throw fail(key, `unknown key (known: ${TOP_KEYS.join(", ")})`);

  const command = raw.command;
  if (typeof command !== "string" || !modalityNames().includes(command)) {
    throw fail("command", `expected one of ${modalityNames().join(", ")}, got ${JSON.stringify(command)}`);
  }
  const profile = raw.profile ?? "quick";
  if (typeof profile !== "string" || !(PROFILES as readonly string[]).includes(profile)) throw fail("profile", `expected one of ${PROFILES.join(", ")}, got ${JSON.stringify(profile)}`);
  const name = raw.name ?? path.basename(file).replace(/\.(ya?ml|json)$/, "");
  if (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw fail("name", `expected letters, digits, '.', '_' and '-' (it names a directory), got ${JSON.stringify(name)}`);

  const base = raw.base ?? {};
  if (!isPlainObject(base)) throw fail("base", "expected a mapping of config fields");

  const gridRaw = raw.grid ?? {};
  if (!isPlainObject(gridRaw)) throw fail("grid", "expected a mapping from config fields to lists of values");
  const grid: [string, unknown[]][] = [];
  for (const [field, values] of Object.entries(gridRaw)) {
    if (!Array.isArray(values)) throw fail(`grid.${field}`, `expected a list of values, got ${JSON.stringify(values)} (a nested field is a dotted key, e.g. train.epochs)`);
    if (values.length === 0) throw fail(`grid.${field}`, "is an empty list: the sweep would have no sequence");
    if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(field)) throw fail(`grid.${field}`, "not a config field (a name or a dotted path like train.epochs)");
    grid.push([field, values]);
  }
  if (raw.seeds !== undefined) {
    const seeds = raw.seeds;
    if (typeof seeds !== "number" || !Number.isInteger(seeds) || seeds < 1) throw fail("seeds", `expected an integer ≥ 1, got ${JSON.stringify(seeds)}`);
    if (grid.some(([f]) => f === "seed")) throw fail("seeds", "and grid.seed give the seeds two ways: use one");
    grid.push(["seed", Array.from({ length: seeds }, (_, k) => k)]);
  }
  return { file, name, command, profile: profile as Profile, base, grid, seedsShorthand: raw.seeds !== undefined, slurm: parseSlurm(raw.slurm, fail) };
}

function parseSlurm(raw: unknown, fail: (field: string, detail: string) => Error): SlurmOptions {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) throw fail("slurm", "expected a mapping of sbatch options");
  const out: SlurmOptions = {};
  for (const [key, v] of Object.entries(raw)) {
    const field = `slurm.${key}`;
    switch (key) {
      case "partition":
      case "time":
      case "mem":
        // A YAML number (mem: 4000, time: 60) is what sbatch reads too: megabytes, minutes.
        if (typeof v !== "string" && typeof v !== "number") throw fail(field, `expected a string, got ${JSON.stringify(v)}`);
        if (/\s/.test(String(v)) || String(v) === "") throw fail(field, `expected one word, got ${JSON.stringify(v)}`);
        out[key] = String(v);
        break;
      case "gpusPerTask":
      case "cpusPerTask":
      case "maxConcurrent":
      case "signalSeconds":
        if (typeof v !== "number" || !Number.isInteger(v) || v < (key === "gpusPerTask" ? 0 : 1)) throw fail(field, `expected an integer ≥ ${key === "gpusPerTask" ? 0 : 1}, got ${JSON.stringify(v)}`);
        out[key] = v;
        break;
      case "extraArgs":
        if (!Array.isArray(v) || v.some((a) => typeof a !== "string" || !a.startsWith("-"))) throw fail(field, `expected a list of sbatch arguments like "--qos=short", got ${JSON.stringify(v)}`);
        out.extraArgs = v as string[];
        break;
      default:
        throw fail(field, `unknown option (known: ${SLURM_KEYS.join(", ")})`);
    }
  }
  return out;
}

/** `{a.b: v}` as `{a: {b: v}}`, for mergeConfig: a dotted key reaches into nested fields. */
function nest(field: string, value: unknown): Record<string, unknown> {
  return field
    .split(".")
    .reverse()
    .reduce<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>;
}

/** The base section with its dotted keys nested, and where each field came from (for error messages). */
function baseOverrides(base: Record<string, unknown>): { over: Record<string, unknown>; fields: string[] } {
  let over: Record<string, unknown> = {};
  const fields: string[] = [];
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      const field = prefix + k;
      fields.push(field);
      if (isPlainObject(v)) walk(v, `${field}.`);
    }
  };
  for (const [k, v] of Object.entries(base)) {
    over = mergeConfig(over, nest(k, v));
    fields.push(k);
  }
  walk(over, "");
  return { over, fields };
}

/**
 * The sweep's sequences: the profile's config, `base` merged over it (as --config: objects field by
 * field, null removes), then each grid combination (the last grid field varies fastest). Every config
 * is checked as `collapse <command>` would check it, before anything runs; an error names the sweep
 * file and the grid value or base field that caused it.
 */
export function expandSweep(spec: SweepSpec): SweepEntry[] {
  const cmd = sweepModality(spec.command);
  const { over: baseOver, fields: baseFields } = baseOverrides(spec.base);
  const combos: { values: Record<string, unknown>; at: Record<string, number> }[] = [{ values: {}, at: {} }];
  for (const [field, values] of spec.grid) {
    const next: typeof combos = [];
    for (const c of combos) values.forEach((v, j) => next.push({ values: { ...c.values, [field]: v }, at: { ...c.at, [field]: j } }));
    combos.splice(0, combos.length, ...next);
  }
  return combos.map((combo, index) => {
    let config: SweepConfig = mergeConfig({ ...structuredClone(cmd.profiles[spec.profile]) }, baseOver);
    for (const [field, value] of Object.entries(combo.values)) config = mergeConfig(config, nest(field, value));
    const setBySweep = [...baseFields, ...Object.keys(combo.values)];
    config = applyFieldRules(cmd, config, setBySweep);
    try {
      checkSequence(cmd, config);
    } catch (e) {
      throw sweepError(spec, e, combo, baseFields, index);
    }
    return { index, command: spec.command, values: combo.values, config };
  });
}

/**
 * What `collapse <command>`'s flags do beyond setting a field: a size given one way clears the other
 * (lm's trainTokens vs trainDocuments), a data spec's path is made absolute (a relative one would key
 * the run by the directory it was started from), and the command's own adjustment (prepare).
 */
function applyFieldRules(cmd: AnyModalitySpec, config: SweepConfig, setBySweep: string[]): SweepConfig {
  const set = new Set(setBySweep);
  for (const f of cmd.flags) {
    if (f.clears && set.has(f.field) && !set.has(f.clears) && config[f.field] !== undefined) delete config[f.clears];
  }
  if (cmd.data && typeof config.data === "string" && set.has("data")) config.data = cmd.data.normalize(config.data);
  const topLevel = Object.fromEntries(setBySweep.map((f) => [f.split(".")[0], true]));
  return cmd.prepare ? { ...cmd.prepare(config, {}, topLevel) } : config;
}

/** A config's ConfigError restated as the sweep file's field that set the culprit. */
function sweepError(spec: SweepSpec, e: unknown, combo: { values: Record<string, unknown>; at: Record<string, number> }, baseFields: string[], index: number): Error {
  if (e instanceof DataError) return new DataError(spec.file, `sequence ${index} (${describeValues(combo.values)}): ${e.path}: ${e.detail}`);
  if (!(e instanceof ConfigError)) return e as Error;
  const related = (f: string) => e.field === f || e.field.startsWith(`${f}.`) || f.startsWith(`${e.field}.`);
  // The most specific source wins: a grid value, then a base field, else the profile's value.
  const gridField = Object.keys(combo.values)
    .filter(related)
    .sort((a, b) => b.length - a.length)[0];
  if (gridField !== undefined) {
    const where = gridField === "seed" && spec.seedsShorthand ? "seeds" : `grid.${gridField}[${combo.at[gridField]}]`;
    return new DataError(spec.file, `${where}: ${e.detail}`);
  }
  const baseField = baseFields.filter(related).sort((a, b) => b.length - a.length)[0];
  if (baseField !== undefined) return new DataError(spec.file, `base.${baseField}: ${e.detail}${Object.keys(combo.values).length ? ` (sequence ${index}: ${describeValues(combo.values)})` : ""}`);
  return new DataError(spec.file, `${e.field}: ${e.detail} (the ${spec.profile} profile's value, in sequence ${index}: ${describeValues(combo.values)})`);
}

/** "strategy=replace seed=1": a sequence's grid values, for tables and messages. */
export function describeValues(values: Record<string, unknown>): string {
  const parts = Object.entries(values).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return parts.length ? parts.join(" ") : "(no grid)";
}

/** A short hash of what a sweep computes (its command and expanded configs): its directory's suffix. */
export function sweepHash(command: string, entries: readonly SweepEntry[]): string {
  return createHash("sha256")
    .update(canonicalJson({ command, configs: entries.map((e) => e.config) }, "sweep"))
    .digest("hex")
    .slice(0, 12);
}
