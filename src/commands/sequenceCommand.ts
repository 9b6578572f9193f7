import * as fs from "node:fs";
import * as path from "node:path";
import type { FitCheckpointInterval, IterationRecord } from "../collapse/loop";
import { PROFILES, type Profile, checkProfile, withSeeds } from "../collapse/profiles";
import { runSequences } from "../collapse/sequences";
import { type AnyModalitySpec, type FieldFlag, type MetricColumn, type ModalitySpec, type SequenceConfig, type SequenceResult, checkSequence } from "../collapse/spec";
import { runSequence, storedIterations } from "../collapse/runSequence";
import { PlannedClock, planSequences } from "../collapse/plan";
import type { RunStore } from "../store/runStore";
import { DEFAULT_MAX_DRAWS, STRATEGIES } from "../collapse/strategies";
import { ConfigError } from "../errors";
import { meanAndStandardError } from "../plots/metricFigures";
import { drawsPerKept } from "../plots/studyFigures";
import { formatSeconds, progressBar } from "../progress";
import { COMMON_FLAGS, backendHelp, type FlagOptions, UsageError, applyBackendFlag, num, oneOf, parse, signed, storeFrom, wrap } from "./args";

// One builder for every `collapse <modality>` command: a modality's spec describes its config fields as
// flags, and the parsing, config file, checking, backend, progress, table and JSON are the same.

/** The flags every sequence command has, then the modality's own. */
function fieldFlags<C extends SequenceConfig>(cmd: ModalitySpec<C, SequenceResult<C>, unknown, unknown, unknown>): FieldFlag<C>[] {
  const data: FieldFlag<C>[] = cmd.data ? [{ flag: "data", field: "data", type: "string", help: ["D", ...cmd.data.help], normalize: cmd.data.normalize }] : [];
  return [
    { flag: "strategy", field: "strategy", type: "string", help: ["S", STRATEGIES.join(", ")], choices: () => STRATEGIES },
    { flag: "iterations", field: "iterations", type: "int", help: ["N", "models fit in sequence"] },
    ...data,
    { flag: "seed", field: "seed", type: "int", help: ["S", "seed of every random draw (default 0)"] },
    ...cmd.flags,
    ...modifierFlags(cmd),
  ];
}

/** Curation and the real share, which every modality takes (curation where it has verifiers). */
function modifierFlags<C extends SequenceConfig>(cmd: ModalitySpec<C, SequenceResult<C>, unknown, unknown, unknown>): FieldFlag<C>[] {
  const verifiers = Object.entries(cmd.verifiers ?? {});
  const curation: FieldFlag<C>[] = verifiers.length
    ? [
        { flag: "curate", field: "curation.verifier", type: "string", help: ["V", "curate every synthetic set with verifier V (with --keep or --threshold):", ...verifiers.flatMap(([name, what]) => wrap(`${name}: ${what}`, 68).map((line, i) => `${i === 0 ? "  " : "    "}${line}`))], choices: () => verifiers.map(([name]) => name) },
        { flag: "keep", field: "curation.keep", type: "real", help: ["P", "with --curate: draw size/P samples and keep the best P of them"] },
        { flag: "threshold", field: "curation.threshold", type: "real", help: ["S", "with --curate: keep samples scoring at least S (drawing more sets", `until enough pass, at most ${DEFAULT_MAX_DRAWS} draws per kept sample)`] },
      ]
    : [];
  return [
    ...curation,
    { flag: "real-share", field: "realShare", type: "real", help: ["P", "replace only: every model after the first trains on its usual size,", "a share P of it the first real samples (the rest synthetic)"] },
  ];
}

export function optionsOf(cmd: AnyModalitySpec): FlagOptions {
  const options: FlagOptions = { profile: { type: "string" }, config: { type: "string" }, seeds: { type: "string" }, json: COMMON_FLAGS.json, help: COMMON_FLAGS.help };
  for (const f of fieldFlags(cmd)) options[f.flag] = { type: "string" };
  if (cmd.tensors) options.backend = { type: "string" };
  if (cmd.stored) Object.assign(options, { "no-cache": COMMON_FLAGS["no-cache"], "runs-dir": COMMON_FLAGS["runs-dir"], "checkpoint-every": { type: "string" } });
  return options;
}

const INDENT = " ".repeat(25);

function flagLine(name: string, lines: string[]): string {
  // A flag too long for the column takes its own line, so that it never runs into its help.
  const head = name.length < 23 ? [`  ${name.padEnd(23)}${lines[0] ?? ""}`] : [`  ${name}`, `${INDENT}${lines[0] ?? ""}`];
  return [...head, ...lines.slice(1).map((l) => `${INDENT}${l}`)].join("\n");
}

export function sequenceHelp(cmd: AnyModalitySpec): string {
  const width = Math.max(...PROFILES.map((p) => p.length)) + 2;
  const profiles = PROFILES.map((p) => `${INDENT}  ${(p + ":").padEnd(width)}${cmd.describe(cmd.profiles[p])}`).join("\n");
  const flags = fieldFlags(cmd).map((f) => flagLine(`--${f.flag} ${f.help[0]}`, f.help.slice(1)));
  const json = wrap(`print machine-readable results to stdout: per iteration every metric (${cmd.metrics.map((m) => m.key).join(", ")}${cmd.jsonMetricsHelp ? `, ${cmd.jsonMetricsHelp}` : ", ..."}), trainSize, realInTrain, seconds`, 70);
  return `${wrap(`collapse ${cmd.name} — ${cmd.summary}`, 100).join("\n")}

Usage: collapse ${cmd.name} [flags]

The profile gives the base configuration, --config FILE.json overrides any of its fields, and
every other flag overrides one field.

Flags:
${flagLine("--profile P", [`${PROFILES.join(" | ")} (default quick)`])}
${profiles}
${flagLine("--config FILE.json", ["fields merged over the profile's config (objects field by field;", "null removes a field)"])}
${flags.join("\n")}
${flagLine("--seeds K", ["K sequences, seeds S, S+1, ..., S+K-1 (S: --seed), trained side by side", `(${cmd.stored ? "a worker process per core" : "one after another"}); the table gives mean ± SE over them`])}
${cmd.tensors ? `${backendHelp(23)}\n` : ""}${flagLine("--json", json)}
${cmd.stored ? `${flagLine("--no-cache", ["do not read or write the run store (no checkpoints either)"])}\n${flagLine("--runs-dir DIR", ["run store location (default $COLLAPSE_RUNS_DIR or runs/); a run keeps", "its synthetic sets and one safetensors checkpoint per model"])}\n${flagLine("--checkpoint-every T", ["a mid-fit checkpoint every T of a fit: 10m, 90s, 2h, or 500steps", "(default 10m): a killed fit resumes from its last one"])}\n` : ""}${flagLine("-h, --help", ["this help"])}
${cmd.stored ? "\nAn interrupted run resumes from its last finished model when the same command is run again; a\nfinished one is read back." : ""}`;
}

/** --checkpoint-every: "10m", "90s", "2h" or "500steps" (undefined: the default interval). */
export function checkpointInterval(text: string | undefined): FitCheckpointInterval | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(s|m|h|steps)$/.exec(text.trim());
  if (!m || !(Number(m[1]) > 0)) throw new UsageError(`--checkpoint-every: expected a time (90s, 10m, 2h) or a step count (500steps), got ${JSON.stringify(text)}`);
  const n = Number(m[1]);
  if (m[2] === "steps") {
    if (!Number.isInteger(n)) throw new UsageError(`--checkpoint-every: a step count must be an integer, got ${JSON.stringify(text)}`);
    return { everySteps: n };
  }
  return { everySeconds: n * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"] };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `over` merged into `base`: objects field by field, null removes a field, anything else (arrays included) replaces it. */
export function mergeConfig<T>(base: T, over: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else out[k] = isPlainObject(v) && isPlainObject(out[k]) ? mergeConfig(out[k], v) : v;
  }
  return out as T;
}

export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(path.resolve(file), "utf8");
  } catch (e) {
    throw new UsageError(`--config: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config: ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(value)) throw new UsageError(`--config: ${file} must hold a JSON object of config fields`);
  return value;
}

function setField(config: Record<string, unknown>, field: string, value: unknown, fallback: unknown): void {
  const keys = field.split(".");
  let obj = config;
  for (const k of keys.slice(0, -1)) {
    obj[k] = isPlainObject(obj[k]) ? { ...(obj[k] as object) } : {};
    obj = obj[k] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  if (value === (obj[last] ?? fallback)) return;
  obj[last] = value;
}

/** The run config: the profile's base, the config file merged over it, then the flags. */
export function configFromFlags<C extends SequenceConfig>(cmd: ModalitySpec<C, SequenceResult<C>, unknown, unknown, unknown>, given: Record<string, string>, profile: Profile): C {
  let config = structuredClone(cmd.profiles[profile]);
  const file = given.config !== undefined ? readConfigFile(given.config) : {};
  config = mergeConfig(config, file);
  const flags = fieldFlags(cmd);
  for (const f of flags) {
    const text = given[f.flag];
    if (text === undefined) continue;
    let value: unknown = text;
    if (f.type !== "string") value = num(f.flag, text, f.type === "int");
    else if (f.choices) value = oneOf(f.flag, text, f.choices(), f.flag);
    else if (f.normalize) value = f.normalize(text);
    if (f.clears !== undefined) {
      const other = flags.find((o) => o.field === f.clears);
      if (other && given[other.flag] !== undefined) throw new UsageError(`--${f.flag} and --${other.flag} give the same size two ways: use one`);
      delete (config as Record<string, unknown>)[f.clears];
    }
    setField(config as Record<string, unknown>, f.field, value, f.fallback?.(config));
  }
  return cmd.prepare ? cmd.prepare(config, given, file) : config;
}

/** A result's iterations as --json gives them: every metric the modality recorded, the table's columns first. */
function jsonRows(cmd: { metrics: readonly MetricColumn[] }, result: SequenceResult<SequenceConfig>): Record<string, unknown>[] {
  return result.records.map((r) => ({
    iteration: r.iteration,
    ...Object.fromEntries(cmd.metrics.map((m: MetricColumn) => [m.key, r.metrics[m.key]])),
    ...r.metrics,
    trainSize: r.trainSize,
    realInTrain: r.realInTrain,
    ...(r.compute ? { compute: r.compute } : {}),
    ...(r.curation ? { curation: r.curation } : {}),
    seconds: r.seconds,
  }));
}

/** A ConfigError about a field set by a flag, restated as that flag's error. */
function flagError<C extends SequenceConfig>(cmd: ModalitySpec<C, SequenceResult<C>, unknown, unknown, unknown>, e: unknown, given: Record<string, string>, profile: Profile, beforeRun: boolean): unknown {
  if (!(e instanceof ConfigError)) return e;
  const flag = fieldFlags(cmd).find((f) => f.field === e.field && given[f.flag] !== undefined);
  if (flag) return new UsageError(`--${flag.flag}: ${e.detail}`);
  return (beforeRun && cmd.explain?.(e, given, profile)) || e;
}

function format(value: number | undefined, digits: number): string {
  const v = value ?? NaN;
  return digits === 0 && Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : v.toFixed(digits);
}

export async function runSequenceCommand(cmd: AnyModalitySpec, args: string[]): Promise<number> {
  const given = parse(args, optionsOf(cmd)) as Record<string, string | boolean | undefined>;
  if (given.help) {
    console.log(sequenceHelp(cmd));
    return 0;
  }
  const text = Object.fromEntries(Object.entries(given).filter((e): e is [string, string] => typeof e[1] === "string"));
  const profile = checkProfile(text.profile ?? "quick", "--profile");
  let config: SequenceConfig;
  try {
    config = configFromFlags(cmd, text, profile);
    checkSequence(cmd, config);
  } catch (e) {
    throw flagError(cmd, e, text, profile, true);
  }
  if (cmd.tensors) await applyBackendFlag(text.backend);
  const seeds = num("seeds", text.seeds ?? "1", true);
  if (seeds < 1) throw new UsageError(`--seeds: must be ≥ 1, got ${seeds}`);
  if (seeds > 1) return runSeeds(cmd, config, seeds, given, text, profile);

  const tty = process.stderr.isTTY === true;
  const status = (message: string) => process.stderr.write(`${tty ? "\r\x1b[K" : ""}${message}\n`);
  const store = cmd.stored ? storeFrom(given as { "no-cache"?: boolean; "runs-dir"?: string }) : null;
  // The ETA follows the plan's work (an accumulated fit takes longer than the one before), untimed.
  const clock = await plannedClock(cmd, config, store);
  const bar = progressBar(cmd.name, config.iterations, clock ? { eta: () => clock.eta() } : {});
  const [first, ...rest] = cmd.metrics;
  let lastIteration = 0;
  let firstValue: number | null = null;
  let result: SequenceResult;
  try {
    // No SIGINT handler: the default (exit at once) is safe, since finished models are stored and a
    // stale lock is taken over by the next run.
    result = await runSequence(cmd, config, {
      store,
      fitCheckpoints: checkpointInterval(text["checkpoint-every"]),
      onStatus: status,
      onFitProgress: (n, step, metrics) => {
        if (lastIteration === 0 && n > 1) status(`resuming at model ${n} (models 1–${n - 1} read back from the run store)`);
        lastIteration = Math.max(lastIteration, n - 1);
        const loss = Number.isFinite(metrics.trainLoss) ? ` · train loss ${metrics.trainLoss.toFixed(3)}` : "";
        clock?.step(0, n, step);
        bar.update(n - 1, `model ${n}: step ${step}${loss}`);
      },
      onIteration: (r) => {
        lastIteration = r.iteration;
        clock?.fitDone(0, r.iteration);
        const v = r.metrics[first.key];
        if (r.iteration === 1) firstValue = v;
        const delta = firstValue !== null && r.iteration > 1 ? ` (${signed(v - firstValue)} vs model 1)` : "";
        const others = rest.map((m) => `, ${m.label} ${format(r.metrics[m.key], m.digits)}`).join("");
        status(`model ${r.iteration}/${config.iterations}: ${first.label} ${format(v, first.digits)}${delta}${others}; trained on ${r.trainSize.toLocaleString("en-US")} ${cmd.sizeUnit} in ${formatSeconds(r.seconds)}`);
        bar.update(r.iteration);
      },
    });
  } catch (e) {
    throw flagError(cmd, e, text, profile, false);
  }
  const read = result.resumedFrom;
  bar.finish(read === config.iterations ? "read back from the run store" : read > 0 ? `resumed after model ${read}` : "done");
  const summary = cmd.summarize?.(result, config);
  const backend = result.backend?.backend;
  if (given.json) {
    const rows = jsonRows(cmd, result);
    const out = { profile, command: cmd.name, strategy: config.strategy, parameters: result.parameters, backend, ...summary?.json, runDir: result.runDir ?? null, resumedFrom: read, config, iterations: rows };
    console.log(JSON.stringify(out, null, 2));
    return 0;
  }
  const parameters = result.parameters !== undefined ? ` · ${result.parameters.toLocaleString("en-US")} parameters` : "";
  console.log(`\n${summary?.title ?? `${cmd.name} · ${cmd.describe(config)}`} · ${config.strategy} · seed ${config.seed}${parameters}${backend !== undefined ? ` · backend ${String(backend)}` : ""}`);
  if (result.runDir) console.log(`run: ${result.runDir}${read === config.iterations ? " (from run store)" : read > 0 ? ` (resumed after model ${read})` : ""}`);
  const width = (m: MetricColumn) => Math.max(10, (m.header ?? m.label).length);
  console.log(`  iter   ${(first.header ?? first.label).padStart(width(first))}   Δ vs t=1 ${rest.map((m) => (m.header ?? m.label).padStart(width(m))).join(" ")}   ${cmd.sizeUnit.padStart(10)}   seconds`);
  const firstRecorded = result.records[0]?.metrics[first.key];
  for (const r of result.records) {
    const v = r.metrics[first.key];
    const delta = r.iteration === 1 ? "—" : signed(v - firstRecorded);
    console.log(
      `  ${String(r.iteration).padStart(4)}   ${format(v, first.digits).padStart(width(first))}   ${delta.padStart(8)} ${rest.map((m) => format(r.metrics[m.key], m.digits).padStart(width(m))).join(" ")}   ${r.trainSize.toLocaleString("en-US").padStart(10)}   ${r.seconds.toFixed(1).padStart(7)}`,
    );
  }
  if (config.curation) console.log(`curated by ${config.curation.verifier}: ${drawsPerKept(result.records).toFixed(2)} samples drawn per sample kept`);
  if (config.realShare !== undefined) console.log(`real share ${config.realShare}: every model after the first trained on ${result.records[result.records.length - 1].realInTrain.toLocaleString("en-US")} real of ${result.records[result.records.length - 1].trainSize.toLocaleString("en-US")} ${cmd.sizeUnit}`);
  return 0;
}

/** A clock for one sequence's ETA from its planned work (none for a modality without a cost model). */
async function plannedClock(cmd: AnyModalitySpec, config: SequenceConfig, store: RunStore | null): Promise<PlannedClock | null> {
  if (!cmd.plan) return null;
  const plan = await planSequences(cmd, [config], { calibrate: false, finished: store ? (c) => storedIterations(cmd, store, c) : undefined });
  return new PlannedClock(plan);
}

/**
 * --seeds K: the same config with seeds S..S+K−1, side by side through the sequence runner where the
 * command has one (else here, one after another); prints every metric's mean ± standard error over the
 * seeds per iteration, and the Δ vs model 1 of the first one (taken per seed, then averaged).
 */
async function runSeeds(
  cmd: AnyModalitySpec,
  config: SequenceConfig,
  seeds: number,
  given: Record<string, string | boolean | undefined>,
  text: Record<string, string>,
  profile: Profile,
): Promise<number> {
  const configs = withSeeds([config], seeds);
  const store = cmd.stored ? storeFrom(given as { "no-cache"?: boolean; "runs-dir"?: string }) : null;
  const status = (message: string) => process.stderr.write(`${message}\n`);
  const [first, ...rest] = cmd.metrics;
  const line = (seed: number, r: IterationRecord) => status(`seed ${seed} · model ${r.iteration}/${config.iterations}: ${first.label} ${format(r.metrics[first.key], first.digits)}`);
  let results: SequenceResult[];
  try {
    if (store) {
      results = await runSequences(cmd, configs, { store, fitCheckpoints: checkpointInterval(text["checkpoint-every"]), onIteration: (i, r) => line(configs[i].seed, r), onStatus: (i, m) => status(`seed ${configs[i].seed}: ${m}`) });
    } else {
      results = [];
      for (const c of configs) results.push(await runSequence(cmd, c, { onStatus: (m) => status(`seed ${c.seed}: ${m}`), onIteration: (r) => line(c.seed, r) }));
    }
  } catch (e) {
    throw flagError(cmd, e, text, profile, false);
  }
  const iterations = Math.min(...results.map((r) => r.records.length));
  const stat = (n: number, key: string) => meanAndStandardError(results.map((r) => r.records[n].metrics[key]));
  const delta = (n: number) => meanAndStandardError(results.map((r) => r.records[n].metrics[first.key] - r.records[0].metrics[first.key]));
  if (given.json) {
    const mean = Array.from({ length: iterations }, (_, n) => ({
      iteration: n + 1,
      ...Object.fromEntries(Object.keys(results[0].records[n].metrics).map((k) => [k, stat(n, k)])),
      [`${first.key}Delta`]: delta(n),
    }));
    const runs = results.map((r, i) => ({ seed: configs[i].seed, runDir: r.runDir ?? null, resumedFrom: r.resumedFrom, iterations: jsonRows(cmd, r) }));
    console.log(JSON.stringify({ profile, command: cmd.name, strategy: config.strategy, seeds: configs.map((c) => c.seed), config, mean, runs }, null, 2));
    return 0;
  }
  const pm = (v: { mean: number; se: number }, digits: number) => `${format(v.mean, digits)} ± ${format(v.se, digits)}`;
  console.log(`\n${cmd.name} · ${cmd.describe(config)} · ${config.strategy} · seeds ${configs[0].seed}–${configs[configs.length - 1].seed}: mean ± SE over ${seeds} sequences`);
  for (const [i, r] of results.entries()) if (r.runDir) console.log(`run (seed ${configs[i].seed}): ${r.runDir}`);
  const width = (m: MetricColumn) => Math.max(12, (m.header ?? m.label).length, 2 * m.digits + 8);
  console.log(`  iter   ${(first.header ?? first.label).padStart(width(first))}   ${"Δ vs t=1".padStart(2 * first.digits + 9)} ${rest.map((m) => (m.header ?? m.label).padStart(width(m))).join(" ")}`);
  for (let n = 0; n < iterations; n++) {
    const { mean, se } = delta(n);
    const d = n === 0 ? "—" : `${mean >= 0 ? "+" : "−"}${Math.abs(mean).toFixed(first.digits)} ± ${se.toFixed(first.digits)}`;
    console.log(`  ${String(n + 1).padStart(4)}   ${pm(stat(n, first.key), first.digits).padStart(width(first))}   ${d.padStart(2 * first.digits + 9)} ${rest.map((m) => pm(stat(n, m.key), m.digits).padStart(width(m))).join(" ")}`);
  }
  return 0;
}
