import * as fs from "node:fs";
import * as path from "node:path";
import { selectBackend, TENSORFLOW_PACKAGES } from "../backend";
import { ConfigError, DataError } from "../errors";
import { Run, RunStore, writeFileAtomic } from "./runStore";

/**
 * A run store's results as one tidy table: one row per (run, record), for pandas, R or a spreadsheet.
 *
 * Columns, in this order:
 *   kind, run, createdAt, finished   the run: its kind, its key (the directory name), when it was
 *                                    created, whether done.json is there
 *   config.<path>                    every field of the run's config, nested objects flattened into
 *                                    dotted paths (config.train.learningRate), sorted
 *   facts.<path>                     what a finished sequence recorded about itself (parameters,
 *                                    real-data sizes, the model's config), flattened the same way
 *   iteration                        the record's own fields, flattened the same way and unprefixed:
 *   metrics.<name>                   iteration first, then metrics.* sorted, then the rest sorted
 *   <other record fields>            (trainSize, realInTrain, seconds, ...)
 * Arrays in a record (a learning curve, a linear run's per-iteration testError) are not cells of this
 * table but rows of a second, long one, `series`: kind, run, record (the record's line, from 1),
 * iteration, series (the array's field, then the element's field: curve.metrics.trainLoss;
 * testError), element (its position in the array, from 0), step (the element's own step, where it
 * has one), value. So every cell of both is a scalar; arrays in a config (a few parameters) stay
 * whole as JSON strings. A record field that would clash with a run column (kind, run, createdAt,
 * finished, config.*, facts.*) is written as record.<path>. The columns are the union over the exported runs;
 * a run without some column has it missing (empty in CSV, null in JSON Lines).
 *
 * Export only reads: it takes no lock and writes nothing into the store, so it can run beside a live
 * sequence (a torn last line of a run being appended to is ignored, as Run.records does).
 *
 * A corrupt run directory (config.json that is not a JSON object with a config, a metrics.jsonl line
 * that is not a JSON object, metrics.jsonl without config.json) is skipped and reported in `skipped`,
 * naming the file: exporting 500 runs should not fail for one bad one. `strict: true` throws its
 * DataError instead.
 */

/** One cell of the table: what JSON scalars can hold. */
export type TidyCell = string | number | boolean | null;
export type TidyRow = Record<string, TidyCell>;

/** Which runs to export; both filters together keep the runs that pass both. */
export interface ExportFilter {
  /** Only runs of these kinds (the store's subdirectories), e.g. ["lm", "vae-sequence"]. */
  kinds?: readonly string[];
  /** Only runs with these keys (run directory names): a sweep exports just its own runs this way. */
  keys?: readonly string[];
}

export interface TidyOptions extends ExportFilter {
  /** Throw the DataError of the first corrupt run instead of skipping it. */
  strict?: boolean;
}

export interface ExportedRun {
  kind: string;
  key: string;
  dir: string;
  finished: boolean;
  /** Rows it contributed (its complete records). */
  records: number;
}

export interface SkippedRun {
  /** The file that is wrong (or the run directory, when a file is missing). */
  path: string;
  reason: string;
}

export interface TidyTable {
  columns: string[];
  /** Each row holds only the columns it has a value for; `columns` gives the order. */
  rows: TidyRow[];
  /** The records' arrays as a long table, one row per element and field (SERIES_COLUMNS). */
  series: { columns: string[]; rows: TidyRow[] };
  runs: ExportedRun[];
  skipped: SkippedRun[];
}

/** The columns of the long table of the records' arrays. */
export const SERIES_COLUMNS = ["kind", "run", "record", "iteration", "series", "element", "step", "value"] as const;

/** The run columns every row starts with. */
export const RUN_COLUMNS = ["kind", "run", "createdAt", "finished"] as const;

/**
 * Top-level store directories that are not run kinds: `sweeps/<name>/sweep.json` (collapse sweep)
 * describes runs kept elsewhere in the store.
 */
const NOT_KINDS = new Set(["sweeps"]);

/**
 * The run directories of a store, <root>/<kind>/<key>, without reading them (a directory that turns
 * out not to be a run is dropped by tidyRows). A DataError when the root is not a directory.
 */
export function storeRuns(store: RunStore, filter: ExportFilter = {}): { kind: string; key: string; dir: string }[] {
  if (!fs.existsSync(store.root) || !fs.statSync(store.root).isDirectory()) throw new DataError(store.root, "is not a run store (no such directory)");
  const kindFilter = filter.kinds ? new Set(filter.kinds) : null;
  const keyFilter = filter.keys ? new Set(filter.keys) : null;
  const out: { kind: string; key: string; dir: string }[] = [];
  for (const kind of subdirectories(store.root)) {
    if (NOT_KINDS.has(kind) || (kindFilter && !kindFilter.has(kind))) continue;
    for (const key of subdirectories(path.join(store.root, kind))) {
      if (!keyFilter || keyFilter.has(key)) out.push({ kind, key, dir: path.join(store.root, kind, key) });
    }
  }
  return out;
}

export function tidyRows(store: RunStore, options: TidyOptions = {}): TidyTable {
  const runs: ExportedRun[] = [];
  const skipped: SkippedRun[] = [];
  const perRun: { createdAt: string; kind: string; key: string; rows: TidyRow[]; series: TidyRow[] }[] = [];
  for (const { kind, key, dir } of storeRuns(store, options)) {
    let read: ReturnType<typeof readRun>;
    try {
      read = readRun(dir, kind, key);
    } catch (e) {
      if (!(e instanceof DataError) || options.strict) throw e;
      skipped.push({ path: e.path, reason: e.detail });
      continue;
    }
    if (read === null) continue; // not a run (no config.json, no metrics.jsonl)
    runs.push({ kind, key, dir, finished: read.finished, records: read.rows.length });
    perRun.push({ createdAt: read.createdAt ?? "", kind, key, rows: read.rows, series: read.series });
  }

  // Runs in a stable, readable order: by kind, then in the order they were started.
  const order = perRun.map((r, i) => ({ r, i })).sort((a, b) => compare(a.r.kind, b.r.kind) || compare(a.r.createdAt, b.r.createdAt) || compare(a.r.key, b.r.key));
  const rows = order.flatMap(({ r }) => r.rows);
  const sortedRuns = order.map(({ i }) => runs[i]);
  return { columns: columnOrder(rows), rows, series: { columns: [...SERIES_COLUMNS], rows: order.flatMap(({ r }) => r.series) }, runs: sortedRuns, skipped };
}

/** A run directory's rows; null when the directory is not a run at all; a DataError when it is corrupt. */
function readRun(dir: string, kind: string, key: string): { createdAt: string | null; finished: boolean; rows: TidyRow[]; series: TidyRow[] } | null {
  const configPath = path.join(dir, "config.json");
  const metricsPath = path.join(dir, "metrics.jsonl");
  if (!fs.existsSync(configPath)) {
    // RunStore.open makes the directory before config.json: an empty one is a run being created.
    if (fs.existsSync(metricsPath)) throw new DataError(dir, "has metrics.jsonl but no config.json; the run directory is corrupt");
    return null;
  }
  let stored: unknown;
  try {
    stored = JSON.parse(fs.readFileSync(configPath, "utf8"));
  } catch (e) {
    throw new DataError(configPath, `cannot be read as JSON (${(e as Error).message}); the run directory is corrupt`);
  }
  if (!isObject(stored) || !isObject(stored.config)) throw new DataError(configPath, "holds no config object; the run directory is corrupt");
  const createdAt = typeof stored.createdAt === "string" ? stored.createdAt : null;
  const run = new Run(dir, key);
  const finished = run.done;
  const summary = finished ? run.summary<{ facts?: unknown }>() : null;
  const records = run.records(); // a DataError naming metrics.jsonl if a line is not JSON
  return { createdAt, finished, ...runRows({ kind, run: key, createdAt, finished }, stored.config, summary?.facts, records, metricsPath) };
}

/**
 * A run's rows and series from its parts: `cells` (kind, run, createdAt, finished), its config, the
 * facts it recorded (facts.* columns: sizes, parameter counts) and its records; `source` names the
 * records in errors.
 */
function runRows(cells: TidyRow, config: unknown, facts: unknown, records: readonly unknown[], source: string): { rows: TidyRow[]; series: TidyRow[] } {
  const runCells: TidyRow = { ...cells };
  flatten(config, "config", runCells);
  if (facts !== undefined) flatten(facts, "facts", runCells);
  const series: TidyRow[] = [];
  const rows = records.map((record, i) => {
    if (!isObject(record)) throw new DataError(source, `line ${i + 1} is not a JSON object; the run directory is corrupt`);
    const recordCells: TidyRow = {};
    const arrays: Record<string, unknown[]> = {};
    flatten(record, "", recordCells, arrays);
    const row: TidyRow = { ...runCells };
    for (const [column, value] of Object.entries(recordCells)) row[clashes(column) ? `record.${column}` : column] = value;
    const at: TidyRow = { kind: cells.kind, run: cells.run, record: i + 1, iteration: typeof record.iteration === "number" ? record.iteration : null };
    for (const [field, items] of Object.entries(arrays)) series.push(...seriesRows(at, field, items));
    return row;
  });
  return { rows, series };
}

/** A config's cells as the tables hold them: config.<path>, arrays as JSON strings. */
export function configCells(config: object): TidyRow {
  const out: TidyRow = {};
  flatten(config, "config", out);
  return out;
}

/** What resultRows reads of a sequence's result (see runSequence). */
export interface ResultLike {
  config: object;
  records: readonly object[];
  runDir?: string | null;
  kind?: string;
  facts?: unknown;
}

/**
 * Sequence results held in memory (run with or without a store) as the same tidy table as a store's:
 * one row per record, config.* and facts.* columns; `run` is the run directory's key where there is
 * one, else result-<n> (its position in `results`, from 1).
 */
export function resultRows(results: readonly ResultLike[]): TidyTable {
  const perRun = results.map((r, i) => {
    const cells: TidyRow = { kind: r.kind ?? (r.runDir ? path.basename(path.dirname(r.runDir)) : null), run: r.runDir ? path.basename(r.runDir) : `result-${i + 1}`, createdAt: null, finished: null };
    return runRows(cells, r.config, r.facts, r.records, r.runDir ?? "a sequence's records");
  });
  const rows = perRun.flatMap((r) => r.rows);
  return { columns: columnOrder(rows), rows, series: { columns: [...SERIES_COLUMNS], rows: perRun.flatMap((r) => r.series) }, runs: [], skipped: [] };
}

/**
 * One array of a record as long rows: an element that is a number (or any scalar) is one row; an
 * element that is an object gives a row per scalar leaf (curve.metrics.trainLoss), with the element's
 * `step` in the step column; a nested array stays whole, as a JSON string.
 */
function seriesRows(at: TidyRow, field: string, items: unknown[]): TidyRow[] {
  const out: TidyRow[] = [];
  items.forEach((item, index) => {
    if (isObject(item)) {
      const step = typeof item.step === "number" ? item.step : null;
      const leaves: TidyRow = {};
      const { step: _step, ...rest } = item;
      flatten(rest, "", leaves);
      for (const [leaf, value] of Object.entries(leaves)) out.push({ ...at, series: `${field}.${leaf}`, element: index, step, value });
    } else {
      out.push({ ...at, series: field, element: index, step: null, value: Array.isArray(item) ? JSON.stringify(item) : isScalar(item) ? item : null });
    }
  });
  return out;
}

function isScalar(value: unknown): value is TidyCell {
  return value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

function clashes(recordColumn: string): boolean {
  return (RUN_COLUMNS as readonly string[]).includes(recordColumn) || ["config", "facts"].some((p) => recordColumn === p || recordColumn.startsWith(`${p}.`));
}

/**
 * Writes `value`'s leaves into `out` under dotted paths. Arrays go to `arrays` under their path where
 * it is given, else stay whole in `out` as JSON strings.
 */
function flatten(value: unknown, prefix: string, out: TidyRow, arrays?: Record<string, unknown[]>): void {
  if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out, arrays);
  } else if (Array.isArray(value)) {
    if (arrays) arrays[prefix] = value;
    else out[prefix] = JSON.stringify(value);
  } else if (isScalar(value)) {
    out[prefix] = value;
  }
}

/** Run columns, then config.* and facts.* sorted, then iteration, metrics.* sorted, and the other record columns sorted. */
function columnOrder(rows: TidyRow[]): string[] {
  const seen = new Set<string>();
  for (const row of rows) for (const c of Object.keys(row)) seen.add(c);
  for (const c of RUN_COLUMNS) seen.delete(c);
  const rest = [...seen].sort(compare);
  const config = rest.filter((c) => c.startsWith("config."));
  const facts = rest.filter((c) => c.startsWith("facts."));
  const iteration = rest.filter((c) => c === "iteration");
  const metrics = rest.filter((c) => c.startsWith("metrics."));
  const other = rest.filter((c) => !c.startsWith("config.") && !c.startsWith("facts.") && c !== "iteration" && !c.startsWith("metrics."));
  return [...RUN_COLUMNS, ...config, ...facts, ...iteration, ...metrics, ...other];
}

// ---------------------------------------------------------------------------------------------------
// CSV and JSON Lines

/**
 * The table as CSV. A plain writer rather than a dataframe library: the table is already tidy, and
 * all that matters is RFC 4180 quoting (a cell with a comma, quote, CR or LF is quoted, quotes
 * doubled). Rows end in LF, which pandas, R and Python's csv read, so line tools see no stray CR.
 * A missing value is an empty cell; true/false and numbers are written as JSON writes them.
 */
export function toCsv(table: Pick<TidyTable, "columns" | "rows">): string {
  const lines = [table.columns.map(csvCell).join(",")];
  for (const row of table.rows) lines.push(table.columns.map((c) => csvCell(row[c] ?? null)).join(","));
  return lines.join("\n") + "\n";
}

/**
 * A data frame (danfojs's, or anything with `columns` and row-major `values`) as CSV through the same
 * writer: non-finite numbers and missing values become empty cells.
 */
export function frameToCsv(frame: { columns: readonly unknown[]; values: unknown }): string {
  const columns = frame.columns.map(String);
  const rows = (frame.values as unknown[][]).map((values) => Object.fromEntries(columns.map((c, i) => [c, frameCell(values[i])])));
  return toCsv({ columns, rows });
}

/** Writes frameToCsv(frame) to `file` atomically (a reader never sees half a table). */
export function saveFrameCsv(frame: { columns: readonly unknown[]; values: unknown }, file: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, frameToCsv(frame));
  return file;
}

function frameCell(v: unknown): TidyCell {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" || typeof v === "boolean") return v;
  return null;
}

function csvCell(value: TidyCell): string {
  if (value === null) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The table as JSON Lines: one object per row with every column, in column order, null where missing. */
export function toJsonLines(table: Pick<TidyTable, "columns" | "rows">): string {
  return table.rows
    .map((row) => {
      const full: TidyRow = {};
      for (const c of table.columns) full[c] = row[c] ?? null;
      return JSON.stringify(full) + "\n";
    })
    .join("");
}

// ---------------------------------------------------------------------------------------------------
// TensorBoard

export interface TensorBoardSummary {
  /** One log directory per run, relative to the tensorboard directory: <kind>/<label>. */
  logdirs: string[];
  scalars: number;
}

/**
 * One TensorBoard log directory per run under `dir`/<kind>/<label>, each numeric record column a
 * scalar (tag: the column with "/" for ".", e.g. metrics/testCrossEntropy) at step = the record's
 * iteration, or its line number (from 1) for records without one (a linear run's records are repeats).
 * `dir` is replaced as a whole: written beside it and renamed over it, so TensorBoard never sees
 * points of an older export mixed in.
 *
 * Needs the native backend (tfjs-node's summary writer): selects `tensorflow` as the process's tfjs
 * backend, or throws a ConfigError saying how to get it.
 */
export async function writeTensorBoard(table: Pick<TidyTable, "rows">, dir: string): Promise<TensorBoardSummary> {
  const node = await tensorboardWriterModule();
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const logdirs: string[] = [];
  let scalars = 0;
  try {
    for (const [logdir, rows] of runLogdirs(table.rows)) {
      const writer = node.summaryFileWriter(path.join(tmp, logdir));
      rows.forEach((row, i) => {
        const step = typeof row.iteration === "number" && Number.isInteger(row.iteration) ? row.iteration : i + 1;
        for (const [column, value] of Object.entries(row)) {
          if (typeof value !== "number" || column === "iteration" || isRunColumn(column)) continue;
          writer.scalar(column.replace(/\./g, "/"), value, step);
          scalars++;
        }
      });
      writer.flush();
      closeWriter(writer);
      logdirs.push(logdir);
    }
    fs.mkdirSync(tmp, { recursive: true });
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { logdirs, scalars };
}

function isRunColumn(column: string): boolean {
  return (RUN_COLUMNS as readonly string[]).includes(column) || column.startsWith("config.");
}

/**
 * Each run's rows under its log directory, <kind>/<label>: the label is the config fields that differ
 * between the exported runs of that kind (name=value, by the field's last path segment, shortened),
 * then the run key, which keeps it unique; just the key when the kind has one run.
 */
function runLogdirs(rows: TidyRow[]): Map<string, TidyRow[]> {
  const byRun = new Map<string, TidyRow[]>();
  for (const row of rows) {
    const id = `${row.kind}/${row.run}`;
    if (!byRun.has(id)) byRun.set(id, []);
    byRun.get(id)!.push(row);
  }
  const byKind = new Map<string, TidyRow[]>(); // each run's first row, per kind
  for (const runRows of byRun.values()) {
    const kind = String(runRows[0].kind);
    if (!byKind.has(kind)) byKind.set(kind, []);
    byKind.get(kind)!.push(runRows[0]);
  }
  const out = new Map<string, TidyRow[]>();
  for (const [kind, firsts] of byKind) {
    const configColumns = [...new Set(firsts.flatMap((r) => Object.keys(r).filter((c) => c.startsWith("config."))))].sort(compare);
    const varying = configColumns.filter((c) => new Set(firsts.map((r) => JSON.stringify(r[c] ?? null))).size > 1);
    for (const first of firsts) {
      const label = varying.map((c) => `${c.slice(c.lastIndexOf(".") + 1)}=${first[c] ?? "none"}`).join("_");
      const safe = label.replace(/[^A-Za-z0-9._=+-]+/g, "-").slice(0, 64);
      out.set(path.join(kind, safe ? `${safe}_${first.run}` : String(first.run)), byRun.get(`${kind}/${first.run}`)!);
    }
  }
  return out;
}

interface SummaryWriter {
  scalar(name: string, value: number, step: number): void;
  flush(): void;
}
interface TfjsNode {
  summaryFileWriter(logdir: string): SummaryWriter;
}

async function tensorboardWriterModule(): Promise<TfjsNode> {
  try {
    // The summary writer runs TensorFlow ops, so tensorflow must be the current backend.
    await selectBackend({ backend: "tensorflow" });
  } catch (e) {
    const why = e instanceof ConfigError ? e.detail : (e as Error).message;
    throw new ConfigError("format", `tensorboard needs the native TensorFlow backend: ${why}`);
  }
  for (const pkg of TENSORFLOW_PACKAGES) {
    try {
      const mod = require(pkg) as { node?: TfjsNode };
      if (mod.node?.summaryFileWriter) return mod.node;
    } catch {
      // try the next package
    }
  }
  throw new ConfigError("format", `tensorboard needs tf.node.summaryFileWriter, which none of ${TENSORFLOW_PACKAGES.join(", ")} provides`);
}

/**
 * Closes the writer's event file. tfjs-node has no public close, and keeps every writer (and its open
 * file) for the life of the process: a store of thousands of runs would run out of file descriptors.
 * TensorFlow's CloseSummaryWriter op through the writer's backend does it; if that internal is gone
 * in some tfjs-node version, the file just stays open (it is flushed already).
 */
function closeWriter(writer: SummaryWriter): void {
  const w = writer as unknown as { backend?: { executeMultipleOutputs?: (op: string, attrs: unknown[], inputs: unknown[], n: number) => unknown }; resourceHandle?: unknown };
  if (typeof w.backend?.executeMultipleOutputs !== "function" || w.resourceHandle === undefined) return;
  w.backend.executeMultipleOutputs("CloseSummaryWriter", [], [w.resourceHandle], 0);
}

// ---------------------------------------------------------------------------------------------------
// Writing an export

export const RUN_EXPORT_FORMATS = ["csv", "jsonl", "tensorboard"] as const;
export type RunExportFormat = (typeof RUN_EXPORT_FORMATS)[number];

export interface RunExportOptions extends TidyOptions {
  /** Output directory: runs.csv, runs.jsonl, tensorboard/. */
  out: string;
  formats: readonly RunExportFormat[];
}

export interface RunExportResult {
  table: TidyTable;
  /** The paths written, by format. */
  /** Per format its file (tensorboard: its directory); csv and jsonl also write the series table. */
  files: Partial<Record<RunExportFormat | "seriesCsv" | "seriesJsonl", string>>;
  tensorboard?: TensorBoardSummary;
}

/** Reads the store's runs (filtered) and writes the formats asked for; every file is written atomically. */
export async function exportRuns(store: RunStore, options: RunExportOptions): Promise<RunExportResult> {
  for (const f of options.formats) if (!(RUN_EXPORT_FORMATS as readonly string[]).includes(f)) throw new ConfigError("format", `unknown format ${JSON.stringify(f)} (known: ${RUN_EXPORT_FORMATS.join(", ")})`);
  const table = tidyRows(store, options);
  const files: RunExportResult["files"] = {};
  const result: RunExportResult = { table, files };
  if (options.formats.includes("csv")) {
    files.csv = path.join(options.out, "runs.csv");
    writeFileAtomic(files.csv, toCsv(table));
    files.seriesCsv = path.join(options.out, "series.csv");
    writeFileAtomic(files.seriesCsv, toCsv(table.series));
  }
  if (options.formats.includes("jsonl")) {
    files.jsonl = path.join(options.out, "runs.jsonl");
    writeFileAtomic(files.jsonl, toJsonLines(table));
    files.seriesJsonl = path.join(options.out, "series.jsonl");
    writeFileAtomic(files.seriesJsonl, toJsonLines(table.series));
  }
  if (options.formats.includes("tensorboard")) {
    files.tensorboard = path.join(options.out, "tensorboard");
    fs.mkdirSync(options.out, { recursive: true });
    result.tensorboard = await writeTensorBoard(table, files.tensorboard);
  }
  return result;
}

function subdirectories(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith("."))
    .map((e) => e.name)
    .sort(compare);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Code-unit order, the same on every machine (localeCompare is not). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
