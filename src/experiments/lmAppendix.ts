import * as fs from "node:fs";
import * as path from "node:path";
import type { DataFrame } from "danfojs-node";
import type { IterationRecord } from "../collapse/loop";
import { CONTROL_STRATEGIES, type Strategy } from "../collapse/strategies";
import { ConfigError, checkInt, checkNumber } from "../errors";
import { packageRoot } from "../environment";
import type { LmCurve } from "../lm/figures";
import { frameToCsv } from "../store/export";
import { danfo, frameRows, rowsOfConfig } from "../store/frames";
import { canonicalJson, writeFileAtomic } from "../store/runStore";
import { type LmSequenceConfig, type LmSequenceResult, lmRunKey } from "../lm/sequence";
import { lmBaseConfig } from "../lm/spec";
import type { Profile } from "../collapse/profiles";

/**
 * The §3.1 ablations of the paper's appendix: Figure 10 (sampling temperature), Figure 11 (how much
 * the first model is trained) and Table 2 (test cross-entropy at t=1, after a few iterations of each
 * strategy and after many of replace, for several settings and models).
 */
export interface LmAppendixConfig {
  /** The GPT-2 setting of Figure 3; every ablation changes one thing about it. */
  base: LmSequenceConfig;
  /** "t=4" of Table 2: the iteration at which accumulate, replace and replace-multiple are compared. */
  shortIterations: number;
  /** "t=10" of Table 2: how far replace is followed. */
  longIterations: number;
  /** How far every curve of Figure 10 runs, accumulate included (the kit's choice: longIterations at paper, shortIterations below). */
  figure10Iterations: number;
  /**
   * The reviewers' controls, run on the base GPT-2 setting to shortIterations and drawn in one figure:
   * replace-matched-compute and accumulate-subsample beside replace, replace-multiple and accumulate.
   */
  controls: Strategy[];
  /** The low sampling temperature of Figure 10 and Table 2 (the paper: 0.3). */
  lowTemperature: number;
  /** The small-dataset rows train on 1/smallDatasetDivisor of the base's real training set (the paper: 5). */
  smallDatasetDivisor: number;
  /** Epochs of the "small dataset + more epochs" row (the paper: 3). */
  smallDatasetEpochs: number;
  /** Llama-2 models of Table 2, smallest first (the paper: 12M, 42M, 126M). */
  llamaModels: string[];
  /** Figure 11: epochs of the first model only, one panel each (the base's own epochs are added). */
  firstIterationEpochs: number[];
  /** Strategies drawn in Figure 10 and 11. */
  strategies: Strategy[];
}

export function lmAppendixConfig(profile: Profile): LmAppendixConfig {
  // The paper's ablations: temperature 0.3, a 5× smaller dataset (also for 3 epochs), t=4 and t=10.
  const paper = { base: lmBaseConfig(profile), shortIterations: 4, longIterations: 10, figure10Iterations: 10, lowTemperature: 0.3, smallDatasetDivisor: 5, smallDatasetEpochs: 3, strategies: ["replace", "accumulate"] as Strategy[], controls: [...CONTROL_STRATEGIES] };
  switch (profile) {
    case "smoke":
      return { ...paper, shortIterations: 2, longIterations: 3, figure10Iterations: 2, smallDatasetDivisor: 2, smallDatasetEpochs: 2, llamaModels: ["llama2-smoke"], firstIterationEpochs: [0.5] };
    case "quick":
      // The appendix runs 18 sequences, so at quick its base is its own (ours): the narrower GPT-2 on
      // 100k real tokens at batch 6 (more optimizer steps on less data), a third of Figure 3's, with
      // Table 2's columns at t=3 (as Figure 3) and t=6 instead of 4 and 10. The small dataset is half
      // the base (a fifth leaves first models near the unigram baseline), trained for 2 and the paper's
      // 3 epochs. Two widths of the quick Llama-2 stand for the paper's three sizes, and Figure 11
      // adds a first model trained for 1 epoch to the usual 2.
      return {
        ...paper,
        base: {
          ...paper.base,
          model: "gpt2-quick-s",
          trainTokens: 100_000,
          train: { ...paper.base.train, batchSize: 6, learningRate: 7e-3, minLearningRate: 7e-4, evalEvery: 25 },
        },
        shortIterations: 3,
        longIterations: 6,
        figure10Iterations: 3,
        smallDatasetDivisor: 2,
        llamaModels: ["llama2-quick-s", "llama2-quick"],
        firstIterationEpochs: [1],
      };
    case "medium":
      // Ours: Figure 3's medium GPT-2 setting with the paper's ablations (temperature 0.3, a fifth of
      // the data, also for 3 epochs), fewer sequences than at paper: Table 2's columns at t=3 and t=5
      // (the paper: 4 and 10), so that the base row's replace and accumulate sequences are Figure 3's
      // own (5 iterations); the smallest Llama-2 only (of 12M, 42M and 126M); Figure 11's first models
      // at 0.5 and 2 epochs beside the base's 1 (the paper's profile adds 0.25); Figure 10 to t=5.
      return { ...paper, shortIterations: 3, longIterations: 5, figure10Iterations: 5, llamaModels: ["llama2-12m"], firstIterationEpochs: [0.5, 2] };
    case "paper":
      return { ...paper, llamaModels: ["llama2-12m", "llama2-42m", "llama2-126m"], firstIterationEpochs: [0.25, 0.5, 2] };
  }
}

export function checkLmAppendixConfig(c: LmAppendixConfig): LmAppendixConfig {
  checkInt("shortIterations", c.shortIterations, { min: 2 });
  checkInt("longIterations", c.longIterations, { min: c.shortIterations });
  checkInt("figure10Iterations", c.figure10Iterations, { min: 1, max: c.longIterations });
  if (c.controls.length === 0) throw new ConfigError("controls", "name at least one strategy");
  checkNumber("lowTemperature", c.lowTemperature, { exclusiveMin: 0 });
  checkInt("smallDatasetDivisor", c.smallDatasetDivisor, { min: 1, max: c.base.trainTokens ?? c.base.trainDocuments });
  checkNumber("smallDatasetEpochs", c.smallDatasetEpochs, { exclusiveMin: 0 });
  c.firstIterationEpochs.forEach((e, i) => checkNumber(`firstIterationEpochs[${i}]`, e, { exclusiveMin: 0 }));
  if (c.strategies.length === 0) throw new ConfigError("strategies", "name at least one strategy");
  return c;
}

/** Which of Table 2's columns a row fills (the paper leaves some out, and so does the kit by default). */
export interface Table2Row {
  /** "GPT-2" or "Llama-2"; the table adds the parameter count. */
  architecture: string;
  /** What the row changes ("" for the base setting), e.g. "temperature 0.3". */
  variant: string;
  /** The row's setting; the strategy and iterations are set per column. */
  setting: LmSequenceConfig;
  replaceLong: boolean;
  replaceMultiple: boolean;
}

/** Table 2's rows, as in the paper: which settings, and which columns each one fills. */
export function table2Rows(c: LmAppendixConfig): Table2Row[] {
  const b = c.base;
  const smaller = (n: number) => Math.max(1, Math.round(n / c.smallDatasetDivisor));
  const small = b.trainTokens !== undefined ? { trainTokens: smaller(b.trainTokens) } : { trainDocuments: smaller(b.trainDocuments ?? 1) };
  const gpt2 = (variant: string, setting: LmSequenceConfig, replaceLong: boolean, replaceMultiple: boolean): Table2Row => ({ architecture: "GPT-2", variant, setting, replaceLong, replaceMultiple });
  return [
    gpt2("", b, true, true),
    gpt2(`temperature ${c.lowTemperature}`, { ...b, sampling: { ...b.sampling, temperature: c.lowTemperature } }, true, false),
    gpt2(`small dataset (1/${c.smallDatasetDivisor})`, { ...b, ...small }, true, true),
    gpt2(`small dataset, ${c.smallDatasetEpochs} epochs`, { ...b, ...small, train: { ...b.train, epochs: c.smallDatasetEpochs } }, false, false),
    ...c.llamaModels.map((model) => ({ architecture: "Llama-2", variant: "", setting: { ...b, model }, replaceLong: false, replaceMultiple: false })),
  ];
}

/** Figure 10's settings: the base temperature and the low one. */
export function figure10Settings(c: LmAppendixConfig): { label: string; setting: LmSequenceConfig }[] {
  const t = c.base.sampling.temperature ?? 1;
  return [
    { label: `temperature ${t.toFixed(1)}`, setting: c.base },
    { label: `temperature ${c.lowTemperature}`, setting: { ...c.base, sampling: { ...c.base.sampling, temperature: c.lowTemperature } } },
  ];
}

/** Figure 11's settings: the first model trained for fewer or more epochs than the rest. */
export function figure11Settings(c: LmAppendixConfig): { label: string; setting: LmSequenceConfig }[] {
  const baseEpochs = c.base.train.epochs ?? 1;
  const epochs = [...new Set([...c.firstIterationEpochs, baseEpochs])].sort((a, b) => a - b);
  const plural = (e: number) => `${e} epoch${e === 1 ? "" : "s"}`;
  return epochs.map((e) => ({
    label: `first model: ${plural(e)}`,
    setting: e === baseEpochs ? c.base : { ...c.base, firstIterationEpochs: e },
  }));
}

/**
 * Every sequence the appendix needs, each once: a replace sequence followed to t=10 also gives t=4 (runs
 * are keyed without their length), and the base GPT-2 sequences are the ones Figure 3 already ran.
 */
export function appendixSequences(c: LmAppendixConfig): LmSequenceConfig[] {
  checkLmAppendixConfig(c);
  const wanted: LmSequenceConfig[] = [];
  for (const row of table2Rows(c)) {
    wanted.push({ ...row.setting, strategy: "accumulate", iterations: c.shortIterations });
    wanted.push({ ...row.setting, strategy: "replace", iterations: row.replaceLong ? c.longIterations : c.shortIterations });
    if (row.replaceMultiple) wanted.push({ ...row.setting, strategy: "replace-multiple", iterations: c.shortIterations });
  }
  for (const { setting } of figure10Settings(c)) {
    for (const strategy of c.strategies) wanted.push({ ...setting, strategy, iterations: c.figure10Iterations });
  }
  for (const { setting } of figure11Settings(c)) {
    for (const strategy of c.strategies) wanted.push({ ...setting, strategy, iterations: c.shortIterations });
  }
  for (const strategy of c.controls) wanted.push({ ...c.base, strategy, iterations: c.shortIterations });
  const byKey = new Map<string, LmSequenceConfig>();
  for (const s of wanted) {
    const key = canonicalJson(lmRunKey(s));
    const seen = byKey.get(key);
    if (!seen || seen.iterations < s.iterations) byKey.set(key, s);
  }
  return [...byKey.values()];
}

/** Finished sequences, looked up by setting and strategy; `upTo` cuts a longer run to its first iterations. */
export class SequenceResults {
  private readonly byKey = new Map<string, LmSequenceResult>();

  constructor(results: readonly LmSequenceResult[]) {
    for (const r of results) this.byKey.set(canonicalJson(lmRunKey(r.config)), r);
  }

  get(setting: LmSequenceConfig, strategy: Strategy): LmSequenceResult | undefined {
    return this.byKey.get(canonicalJson(lmRunKey({ ...setting, strategy })));
  }

  records(setting: LmSequenceConfig, strategy: Strategy, upTo = Infinity): IterationRecord[] {
    return (this.get(setting, strategy)?.records ?? []).slice(0, upTo);
  }

  /** Figure 10/11 curves: one panel per label, one line per strategy. */
  curves(settings: readonly { label: string; setting: LmSequenceConfig }[], strategies: readonly Strategy[], upTo: number): LmCurve[] {
    return settings.flatMap(({ label, setting }) => strategies.map((strategy) => ({ label, strategy, records: this.records(setting, strategy, upTo) })));
  }
}

/** Parameters as the paper writes them: 9M, 126M; 248k at the quick sizes. */
export function formatParameters(n: number): string {
  if (n >= 1e6) return `${Math.round(n / 1e6)}M`;
  if (n >= 1e3) return `${Math.round(n / 1e3)}k`;
  return String(n);
}

/** One row of Table 2: cross-entropies (nats/token) and their change from t=1; NaN where not run. */
export interface Table2Values {
  model: string;
  t1: number;
  accShort: number;
  replShort: number;
  replLong: number;
  replMultipleShort: number;
}

/** Fields of a config a run is not keyed by as they are written (iterations) or that only its key holds (a text file's size and time). */
const NOT_IN_BOTH = ["iterations", "dataFile"];

/**
 * Table 2 as a danfojs DataFrame, read off the runs frame of its sequences (runsFrame of the results,
 * a store or a sweep): one row per setting; columns t1, then for each of accumulate at t=4, replace
 * at t=4, replace at t=10 and replace-multiple at t=4 the cross-entropy and its change from t=1 (NaN
 * where the row does not run that column, as in the paper).
 */
export function table2Frame(c: LmAppendixConfig, runs: DataFrame): DataFrame {
  const all = frameRows(runs);
  const rows = table2Rows(c).map((row) => {
    const of = (strategy: Strategy) => rowsOfConfig(all, { ...row.setting, strategy }, NOT_IN_BOTH);
    const ce = (strategy: Strategy, t: number, wanted = true) => {
      const v = wanted ? of(strategy).find((r) => r.iteration === t)?.["metrics.testCrossEntropy"] : NaN;
      return typeof v === "number" ? v : NaN;
    };
    const parameters = [...of("replace"), ...of("accumulate")][0]?.["facts.parameters"];
    const t1 = ce("replace", 1);
    const v: Table2Values = {
      model: `${row.architecture} (${typeof parameters === "number" ? formatParameters(parameters) : "?"})${row.variant ? `, ${row.variant}` : ""}`,
      t1,
      accShort: ce("accumulate", c.shortIterations),
      replShort: ce("replace", c.shortIterations),
      replLong: ce("replace", c.longIterations, row.replaceLong),
      replMultipleShort: ce("replace-multiple", c.shortIterations, row.replaceMultiple),
    };
    return v;
  });
  const column = <K extends keyof Table2Values>(k: K) => rows.map((r) => r[k]);
  const delta = (k: Exclude<keyof Table2Values, "model">) => rows.map((r) => (r[k] as number) - r.t1);
  const s = c.shortIterations;
  const l = c.longIterations;
  return new (danfo().DataFrame)({
    model: column("model"),
    "t=1": column("t1"),
    [`t=${s} acc`]: column("accShort"),
    [`t=${s} acc Δ`]: delta("accShort"),
    [`t=${s} repl`]: column("replShort"),
    [`t=${s} repl Δ`]: delta("replShort"),
    [`t=${l} repl`]: column("replLong"),
    [`t=${l} repl Δ`]: delta("replLong"),
    [`t=${s} repl-multiple`]: column("replMultipleShort"),
    [`t=${s} repl-multiple Δ`]: delta("replMultipleShort"),
  });
}

/** Rows for display: the paper's layout, "value (Δ)" per cell, n/a where a row does not run a column. */
export function table2Display(frame: DataFrame): Record<string, string>[] {
  const cols = frame.columns as string[];
  return frameRows(frame).map((row) => {
    const out: Record<string, string> = {};
    for (const col of cols) {
      if (col.endsWith(" Δ")) continue;
      const v = row[col];
      const dv = row[`${col} Δ`];
      if (typeof v === "string") out[col] = v;
      else if (typeof v !== "number" || !Number.isFinite(v)) out[col] = "n/a";
      else out[col] = typeof dv === "number" && Number.isFinite(dv) ? `${v.toFixed(2)} (${dv >= 0 ? "+" : "−"}${Math.abs(dv).toFixed(2)})` : v.toFixed(2);
    }
    return out;
  });
}

/** A Markdown (GitHub) table of the display rows. */
export function markdownTable(rows: readonly Record<string, string>[]): string {
  if (rows.length === 0) return "";
  const cols = Object.keys(rows[0]);
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const line = (cells: string[]) => `| ${cells.map(esc).join(" | ")} |`;
  return [line(cols), `|${cols.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`, ...rows.map((r) => line(cols.map((c) => r[c] ?? "")))].join("\n") + "\n";
}

/**
 * Table 2's files: table2.csv (every number at full precision, RFC 4180 quoting through the same
 * writer as `collapse export`, an empty cell where the paper leaves one out) and table2.md (the
 * paper's layout).
 */
export function table2Files(frame: DataFrame): { "table2.csv": string; "table2.md": string } {
  return { "table2.csv": frameToCsv(frame), "table2.md": markdownTable(table2Display(frame)) };
}

/** Writes Table 2's files into `dir` (default: out/tables at the kit's root). */
export function saveTable2(frame: DataFrame, dir: string | null = null): { csv: string; markdown: string } {
  dir ??= path.join(packageRoot(), "out", "tables");
  fs.mkdirSync(dir, { recursive: true });
  const files = table2Files(frame);
  const csv = path.join(dir, "table2.csv");
  const markdown = path.join(dir, "table2.md");
  writeFileAtomic(csv, files["table2.csv"]);
  writeFileAtomic(markdown, files["table2.md"]);
  return { csv, markdown };
}
