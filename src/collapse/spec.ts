import * as path from "node:path";
import { type ConfigError, checkInt, checkOneOf } from "../errors";
import type { SequenceCurve } from "../plots/metricFigures";
import type { Figure } from "../plots/plotly";
import type { Run, RunStore } from "../store/runStore";
import type { CollapseResult, FitCheckpointInterval, IterationRecord } from "./loop";
import { type CostModel, plannedIterations } from "./plan";
import type { Profile } from "./profiles";
import type { SequenceEntry } from "./sequenceProtocol";
import { type CurationConfig, type LoopConfig, STRATEGIES, type Strategy, checkModifiers, unknownVerifier } from "./strategies";

// A modality plugs into the kit through one ModalitySpec: its config (profiles, flags, checks), how a
// sequence loads its data and builds the collapse loop, and how its results are reported. The CLI,
// sweeps, `collapse reproduce`, the notebooks' live runner and the worker processes take a spec and
// nothing else, so a new modality is its own folder plus one line in src/modalities.ts.

/** The fields every sequence config has. */
export interface SequenceConfig {
  strategy: Strategy;
  iterations: number;
  seed: number;
  /** Verifier-filtered synthetic data (LoopConfig.curation): the verifier is one of the spec's `verifiers`. */
  curation?: CurationConfig;
  /** The proportion setting (LoopConfig.realShare): replace's training sets keep this share of real samples. */
  realShare?: number;
}

/** Checks the fields every sequence config has (strategy, iterations, seed, and the modifiers), naming the bad one. */
export function checkSequenceFields(c: SequenceConfig): void {
  const strategy = checkOneOf("strategy", c.strategy, STRATEGIES);
  checkInt("iterations", c.iterations, { min: 1 });
  checkInt("seed", c.seed, { min: 0, max: 2 ** 31 - 1 });
  checkModifiers(c, strategy);
}

/** A spec's own checks (which check the common fields), then the curation verifier's name against the spec's verifiers. */
export function checkSequence<C extends SequenceConfig>(spec: { check(c: C): void; verifiers?: Readonly<Record<string, string>> }, c: C): void {
  spec.check(c);
  const known = Object.keys(spec.verifiers ?? {});
  if (c.curation !== undefined && !known.includes(c.curation.verifier)) throw unknownVerifier(c.curation.verifier, known);
}

/** The loop fields a sequence config's modifiers set (none when it has none). */
export function loopModifiers(c: Pick<SequenceConfig, "curation" | "realShare">): Pick<LoopConfig, "curation" | "realShare"> {
  return { ...(c.curation !== undefined ? { curation: c.curation } : {}), ...(c.realShare !== undefined ? { realShare: c.realShare } : {}) };
}

/**
 * The run-store key of a sequence: its spec's key plus the modifiers it sets, so that a curated or
 * proportion run never reads an unmodified one's records (and runs without modifiers keep their keys).
 */
export function sequenceRunKey<C extends SequenceConfig, L>(spec: { runKey(c: C, loaded?: L): Record<string, unknown> }, c: C, loaded?: L): Record<string, unknown> {
  return { ...spec.runKey(c, loaded), ...loopModifiers(c) };
}

/** What every sequence returns: its records, and where the store keeps them. */
export interface SequenceResult<C extends SequenceConfig = SequenceConfig> extends CollapseResult {
  /** The modality's name (its spec's), which is also the run-store kind. */
  kind: string;
  config: C;
  /** What the run recorded about itself (its spec's facts: sizes, parameter counts), as the store keeps it. */
  facts: unknown;
  /** The run directory, when a store was used. */
  runDir: string | null;
  /** The backend of this session (absent for modalities that run no tensors). */
  backend?: Record<string, unknown>;
  /** Model parameters, where the modality counts them. */
  parameters?: number;
}

/** A flag that sets one config field. */
export interface FieldFlag<C> {
  flag: string;
  /** Dotted path into the config, e.g. "train.epochs"; a ConfigError naming it is reported as the flag. */
  field: string;
  type: "int" | "real" | "string";
  /** Help text, one string per line (the first after the flag name). */
  help: string[];
  choices?(): readonly string[];
  /** The value the field has when the config leaves it out; a flag restating it leaves the config (and its run key) unchanged. */
  fallback?(c: C): unknown;
  /** A field the flag replaces (the other way of giving the same size), removed when the flag is given. */
  clears?: string;
  /** Turns the flag's text into the field's value (e.g. makes a path absolute, so the run key does not depend on the cwd). */
  normalize?(text: string): string;
}

/** --epochs, --batch and --lr: the training fields every neural modality has. */
export function trainFlags<C extends { train: object }>(defaults: { epochs: number; batchSize: number; learningRate: number }, unit: string): FieldFlag<C>[] {
  return [
    { flag: "epochs", field: "train.epochs", type: "real", help: ["E", `passes over each model's training ${unit} (default: the profile's)`], fallback: () => defaults.epochs },
    { flag: "batch", field: "train.batchSize", type: "int", help: ["B", "training batch size (default: the profile's)"], fallback: () => defaults.batchSize },
    { flag: "lr", field: "train.learningRate", type: "real", help: ["LR", "peak learning rate (default: the profile's)"], fallback: () => defaults.learningRate },
  ];
}

/** "prefix:PATH" data specs with the path made absolute (a relative one would key the run by the cwd). */
export function absolutePaths(prefixes: readonly string[]): (text: string) => string {
  return (text) => {
    const colon = text.indexOf(":");
    return colon > 0 && prefixes.includes(text.slice(0, colon)) ? `${text.slice(0, colon)}:${path.resolve(text.slice(colon + 1))}` : text;
  };
}

/** A per-iteration metric in the CLI's status line, table and JSON, and in sweep tables. */
export interface MetricColumn {
  key: string;
  /** Name in the status line. */
  label: string;
  /** Column header of the table (default: label). */
  header?: string;
  digits: number;
}

/** What a sequence runner takes besides its config. */
export interface SequenceRunOptions {
  store?: RunStore | null;
  onIteration?: (record: IterationRecord) => void;
  onFitProgress?: (iteration: number, step: number, metrics: Readonly<Record<string, number>>) => void;
  /** Short status lines (loading or generating data, training a tokenizer, ...). */
  onStatus?: (message: string) => void;
  /** Keep a safetensors checkpoint of every iteration's model in the run store (default true). */
  checkpoints?: boolean;
  /**
   * How often a fit writes a mid-fit checkpoint into the run, so that a killed fit resumes where it
   * stood (default: every 10 minutes of wall time; a fit shorter than that writes none).
   */
  fitCheckpoints?: FitCheckpointInterval;
  /** Stops the sequence after its last finished iteration (an InterruptedError; see runCollapse). */
  signal?: AbortSignal;
}

/** What a spec's `setup` is given: the open run (null without a store) and a status line. */
export interface SetupContext {
  run: Run | null;
  store: RunStore | null;
  status: (message: string) => void;
  /** The backend in use ("tensorflow", "wasm", ...), for status lines. */
  backendName: string | null;
}

/**
 * One sequence, ready to run: the modality and loop, how models are checkpointed, the facts the run
 * records about itself (JSON, kept with its summary and read back without loading any data), and the
 * in-memory values a result carries besides them. Built with `sequenceSetup`.
 */
export interface SequenceSetup<F, X> {
  facts: F;
  extras: X;
  /** Runs the loop for `sequence` (its seed, and the modifiers its config sets). */
  collapse(run: Run | null, sequence: Pick<SequenceConfig, "seed" | "curation" | "realShare">, opts: SequenceRunOptions): Promise<CollapseResult>;
  dispose(): void;
}

/**
 * Everything the kit knows about one modality. `C` is its sequence config, `R` its result, `L` the
 * real data a sequence loads, `F` the JSON facts a run records (sizes, parameter counts), `X` what a
 * result holds in memory besides them (a tokenizer, preview images), read back lazily from the run.
 */
export interface ModalitySpec<C extends SequenceConfig, R extends SequenceResult<C>, L = unknown, F = unknown, X = unknown> {
  /** The CLI command, the run-store kind and a sweep's `command:`. */
  name: string;
  /** What `collapse --help` says of the command, e.g. "§3.1: one sequence of transformer language models". */
  brief: string;
  /** The first line of the command's own help. */
  summary: string;
  /** Where a worker process loads this spec from: the module (its `__filename`) and the export. */
  entry: SequenceEntry;

  /** The base config of each profile. */
  profiles: Readonly<Record<Profile, C>>;
  /** A config in one line (help, titles). */
  describe(c: C): string;
  /** A short name of one sequence, for progress lines and sweep messages. */
  label(c: C): string;
  /** --data: its help lines and how a spec is normalized; absent for problems with no data to choose. */
  data?: { help: string[]; normalize(text: string): string };
  /** The modality's own flags, in help order. */
  flags: FieldFlag<C>[];
  /** Throws a ConfigError or DataError for a config that cannot run, before any work starts. */
  check(c: C): void;
  /**
   * Adjusts the config once flags and file are applied, before it is checked: `given` are the flags,
   * `file` the fields the config file set (e.g. to size a run to its data when no size was given).
   */
  prepare?(c: C, given: Readonly<Record<string, string>>, file: Readonly<Record<string, unknown>>): C;
  /** A hint for a ConfigError no flag explains (e.g. a profile's size that does not fit the chosen model). */
  explain?(e: ConfigError, given: Readonly<Record<string, string>>, profile: Profile): Error | null;

  /** Whether sequences run tensors (select a backend, take --backend). */
  tensors: boolean;
  /** Whether `collapse <name>` keeps its runs in the store (sweeps always do). */
  stored: boolean;
  /** The key a config's run is stored under; `loaded`: the data as loaded, when there. */
  runKey(c: C, loaded?: L): Record<string, unknown>;
  /** Loads (or generates) the real data; done before a run is opened, so bad data leaves no run behind. */
  load(c: C, ctx: { status: (message: string) => void }): Promise<L>;
  /** Builds the sequence on its loaded data, in its open run (e.g. a tokenizer trained once, kept in the run). */
  setup(c: C, loaded: L, ctx: SetupContext): Promise<SequenceSetup<F, X>>;
  /** The result from the loop's, the run's facts and the in-memory extras (null: read back from `base.runDir`). */
  result(base: SequenceResult<C>, facts: F, extras: X | null): R;
  /**
   * The config with its original real set `factor` times as large (rounded; the synthetic schedule and
   * whatever is sized by it follow): the real set sizes of the proportion sweep. Absent: one size only.
   */
  scaleRealSet?(c: C, factor: number): C;
  /** Curation's verifiers (LoopConfig.curation): name → what it scores, one line (its Modality implements them). */
  verifiers?: Readonly<Record<string, string>>;
  /** Relative work of the iterations still to run (the parallel runner starts the longest first). */
  cost(c: C, finishedIterations: number): number;
  /** What a run will cost before it runs (`collapse plan`, `ck.plan`): its work per fit, and its steps timed here. */
  plan?: CostModel<C>;
  /**
   * Sequences with the same key train the same first model and share it through the store: they are
   * not started together, so the second reads the first's model instead of training a copy.
   */
  firstModelKey?(c: C): string;
  /** Work done once, before any worker starts (e.g. generating a data set every worker reads). */
  beforeWorkers?(configs: readonly C[], opts: { onStatus?: (message: string) => void }): Promise<void>;

  /** Per-iteration metrics; the first is the run's summary metric and gets a Δ vs t=1 column. */
  metrics: MetricColumn[];
  /** More metric names --help lists for --json (beyond the table's columns). */
  jsonMetricsHelp?: string;
  /** What the trained-on size counts ("documents", "images", ...). */
  sizeUnit: string;
  /** Extra top-level JSON fields and a title line of `collapse <name>`, from the result. */
  summarize?(result: R, config: C): { json: Record<string, unknown>; title: string };
  /** The notebooks' live figure: its curves' label (default: the first metric's) and figure (default: the first metric by iteration). */
  live?: { label?(c: C): string; figure?(curves: readonly SequenceCurve[], title: string): Figure };
}

/** A fresh copy of a spec's base config at `profile` (the table itself is never handed out to be changed). */
export function baseConfig<C>(spec: { profiles: Readonly<Record<Profile, C>> }, profile: Profile): C {
  return structuredClone(spec.profiles[profile]);
}

/** The spec an entry names, loaded from its module (any module that exports a ModalitySpec): what worker processes run. */
export function specAt(entry: SequenceEntry): AnyModalitySpec {
  const spec: unknown = require(entry.module)[entry.exportName];
  if (typeof spec !== "object" || spec === null || typeof (spec as { setup?: unknown }).setup !== "function") throw new Error(`${entry.module} exports no modality spec named ${entry.exportName}`);
  return spec as AnyModalitySpec;
}

/** A spec with its types erased, as registries and generic commands hold it. */
export type AnyModalitySpec = ModalitySpec<SequenceConfig, SequenceResult<SequenceConfig>, unknown, unknown, unknown>;

/**
 * Σ over the iterations still to run of (training-set size in units of the real set) × (its training
 * scale) × `perUnit(n)`, the sizes as the strategies' own rules give them (plannedIterations).
 */
export function growingSetCost(strategy: Strategy, iterations: number, finishedIterations: number, perUnit: (iteration: number) => number): number {
  return plannedIterations({ strategy, iterations, realSize: 1 })
    .filter((p) => p.iteration > finishedIterations)
    .reduce((total, p) => total + p.trainSize * p.scale * perUnit(p.iteration), 0);
}

/**
 * A spec's base configs side by side: one row per field (nested fields as dotted paths), one column
 * per profile, values as JSON ("" where a profile leaves the field out).
 */
export function profileRows(spec: { profiles: Readonly<Record<Profile, object>> }): Record<string, string>[] {
  const flat = (o: object, prefix = ""): [string, unknown][] =>
    Object.entries(o).flatMap(([k, v]) => (typeof v === "object" && v !== null && !Array.isArray(v) ? flat(v, `${prefix}${k}.`) : [[`${prefix}${k}`, v] as [string, unknown]]));
  const columns = Object.entries(spec.profiles).map(([p, c]) => [p, new Map(flat(c))] as const);
  const fields = [...new Set(columns.flatMap(([, m]) => [...m.keys()]))];
  return fields.map((field) => ({ field, ...Object.fromEntries(columns.map(([p, m]) => [p, m.has(field) ? JSON.stringify(m.get(field)) : ""])) }));
}
