import type { DataFrame } from "danfojs-node";
import { keepingBackend } from "../backend";
import * as path from "node:path";
import { type ResultLike, type TidyCell, type TidyOptions, type TidyRow, type TidyTable, configCells, resultRows, tidyRows } from "./export";
import { RunStore } from "./runStore";

/**
 * danfojs-node, the one place the kit loads it: on first use (it takes ~2 s), not with the kit, and
 * without letting its require of @tensorflow/tfjs-node (the real package once the native backend is
 * set up) make `tensorflow` the current backend of a run on another one.
 */
export function danfo(): typeof import("danfojs-node") {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return keepingBackend(() => require("danfojs-node"));
}

/** A table of scalar rows as a DataFrame with exactly `columns`; a missing cell is null. */
export function tableFrame(columns: readonly string[], rows: readonly TidyRow[]): DataFrame {
  const values: TidyCell[][] = rows.map((r) => columns.map((c) => r[c] ?? null));
  return new (danfo().DataFrame)(values, { columns: [...columns] });
}

/**
 * Where runsFrame and seriesFrame read: a RunStore or its directory (every run, or those `options`
 * pick), a sweep as readSweep gives it (its runs), or sequence results as the runners return them
 * (from memory: also results of runs made without a store).
 */
export type RunsSource = RunStore | string | { dir: string; sequences: readonly { runDir: string | null }[] } | readonly ResultLike[];

function tableOf(source: RunsSource, options: TidyOptions): TidyTable {
  if (source instanceof RunStore || typeof source === "string") return tidyRows(typeof source === "string" ? new RunStore(source) : source, options);
  if (!("sequences" in source)) return resultRows(source);
  // A sweep: its directory is <store>/sweeps/<name>-<hash>; its runs are picked by their keys.
  const sweep = source;
  const keys = sweep.sequences.flatMap((s) => (s.runDir ? [path.basename(s.runDir)] : []));
  return tidyRows(new RunStore(path.dirname(path.dirname(sweep.dir))), { ...options, keys: options.keys ? options.keys.filter((k) => keys.includes(k)) : keys });
}

/**
 * Results as a DataFrame, one row per (run, record), with the columns of `collapse export`'s
 * runs.csv (kind, run, createdAt, finished, config.*, facts.*, iteration, metrics.*, ...): group,
 * filter and plot them in a notebook cell. `source`: a store, a sweep or results (see RunsSource);
 * `options.kinds` and `options.keys` pick a store's runs.
 */
export function runsFrame(source: RunsSource, options: TidyOptions = {}): DataFrame {
  const table = tableOf(source, options);
  return tableFrame(table.columns, table.rows);
}

/** The records' arrays (learning curves, ...) as a long DataFrame: export's series.csv columns. */
export function seriesFrame(source: RunsSource, options: TidyOptions = {}): DataFrame {
  const table = tableOf(source, options);
  return tableFrame(table.series.columns, table.series.rows);
}

/**
 * The rows of the run whose config is `config`, in iteration order: every config.* cell equal (a
 * cell missing on both sides counts as equal), except the fields `ignore` names with what they hold
 * (e.g. iterations, which a run is keyed without).
 */
export function rowsOfConfig(rows: readonly TidyRow[], config: object, ignore: readonly string[] = ["iterations"]): TidyRow[] {
  const want = configCells(config);
  const compared = (column: string) => column.startsWith("config.") && !ignore.some((f) => column === `config.${f}` || column.startsWith(`config.${f}.`));
  const missing = (v: unknown) => v === null || v === undefined || (typeof v === "number" && Number.isNaN(v));
  const same = (a: unknown, b: unknown) => (missing(a) ? missing(b) : a === b);
  return rows
    .filter((row) => [...new Set([...Object.keys(row), ...Object.keys(want)])].filter(compared).every((c) => same(row[c], want[c])))
    .sort((a, b) => Number(a.iteration) - Number(b.iteration));
}

/** A DataFrame's rows as plain objects (column → cell), for code that looks rows up. */
export function frameRows(frame: DataFrame): TidyRow[] {
  const columns = frame.columns as string[];
  return (frame.values as unknown as TidyCell[][]).map((row) => Object.fromEntries(columns.map((c, k) => [c, row[k]])));
}
