import type { DataFrame } from "danfojs-node";
import { keepingBackend } from "../backend";
import { type TidyCell, type TidyOptions, type TidyRow, tidyRows } from "./export";
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
 * A run store's results as a DataFrame, one row per (run, record), with the columns of `collapse
 * export`'s runs.csv (kind, run, createdAt, finished, config.*, iteration, metrics.*, ...): group,
 * filter and plot them in a notebook cell. `source`: a RunStore or its directory; `options.kinds`
 * and `options.keys` pick runs (a sweep's runs by their keys).
 */
export function runsFrame(source: RunStore | string, options: TidyOptions = {}): DataFrame {
  const table = tidyRows(typeof source === "string" ? new RunStore(source) : source, options);
  return tableFrame(table.columns, table.rows);
}

/** The records' arrays (learning curves, ...) as a long DataFrame: export's series.csv columns. */
export function seriesFrame(source: RunStore | string, options: TidyOptions = {}): DataFrame {
  const table = tidyRows(typeof source === "string" ? new RunStore(source) : source, options);
  return tableFrame(table.series.columns, table.series.rows);
}
