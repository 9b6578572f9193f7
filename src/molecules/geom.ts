import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { Decoder } from "@msgpack/msgpack";
import { ConfigError, DataError, checkInt } from "../errors";
import { packageRoot } from "../environment";
import { type DownloadOptions, OfflineError, downloadFile } from "../store/download";
import type { BondOrder, ConformationSet, Conformer, MoleculeGraph } from "./types";

/**
 * Reader for GEOM (Axelrod & Gómez-Bombarelli 2022), the dataset of §3.2. GEOM's "crude" msgpack
 * files (drugs_crude.msgpack, qm9_crude.msgpack) are a concatenation of msgpack maps, each mapping
 * SMILES → {"conformers": [{"xyz": [[atomic number, x, y, z], ...], "boltzmannweight": w, ...}], ...}
 * (plus per-molecule fields this reader ignores). They are read as a stream: only the molecules kept
 * are ever held in memory, and reading stops as soon as enough molecules were kept, so the first
 * molecules of a multi-GB file come back in seconds.
 *
 * The crude files carry coordinates but no bonds; bonds are inferred from interatomic distances
 * (covalent radii + 0.4 Å, as in common connectivity perception), and their order guessed from how
 * short they are relative to a single bond (≤ 0.85 → triple, ≤ 0.93 → double/aromatic, else single).
 * Hydrogens are dropped by default (the kit models heavy atoms).
 *
 * The files are distributed on Harvard Dataverse (doi:10.7910/DVN/JNGTDF) as drugs_crude.msgpack.tar.gz
 * and qm9_crude.msgpack.tar.gz; this reader also streams straight out of those archives (gzip + tar),
 * so they need not be extracted.
 */

export type GeomDataset = "drugs" | "qm9";

export const GEOM_FILES: Record<GeomDataset, string> = { drugs: "drugs_crude.msgpack", qm9: "qm9_crude.msgpack" };
export const GEOM_DOI = "doi:10.7910/DVN/JNGTDF";
/**
 * Dataverse file ids of the two archives, as given in public setup notes of projects that use them;
 * override the URL with COLLAPSE_GEOM_URL_DRUGS / COLLAPSE_GEOM_URL_QM9 if Dataverse moves them.
 */
export const GEOM_ARCHIVE_URLS: Record<GeomDataset, string> = {
  drugs: "https://dataverse.harvard.edu/api/access/datafile/4360331",
  qm9: "https://dataverse.harvard.edu/api/access/datafile/4327190",
};

export interface GeomReadOptions {
  /** Keep at most this many molecules (the first ones in file order that pass the filters). */
  maxMolecules: number;
  /** Keep at most this many conformers per molecule: those of highest Boltzmann weight. */
  maxConformers: number;
  /** Skip molecules with more atoms than this (after dropping hydrogens); default: no limit. */
  maxAtoms?: number;
  /** Skip molecules with fewer conformers than this; default 1. */
  minConformers?: number;
  /** Keep hydrogens (default false). */
  hydrogens?: boolean;
  /** Called every few hundred molecules read. */
  onProgress?: (p: { read: number; kept: number; bytes: number }) => void;
}

export interface GeomReadResult {
  set: ConformationSet;
  /** Molecules read from the file (kept or skipped). */
  read: number;
  /** Molecules skipped, by reason. */
  skipped: Record<string, number>;
}

/** Covalent radii (Å) of the elements GEOM holds (Cordero et al. 2008); others default to 1.5. */
const COVALENT_RADII: Record<number, number> = {
  1: 0.31, 5: 0.84, 6: 0.76, 7: 0.71, 8: 0.66, 9: 0.57, 14: 1.11, 15: 1.07, 16: 1.05, 17: 1.02, 33: 1.19, 34: 1.2, 35: 1.2, 53: 1.39,
};

function radius(z: number): number {
  return COVALENT_RADII[z] ?? 1.5;
}

/** Bonds of one conformation from distances: d < r_i + r_j + 0.4 Å; the order guessed from d / (r_i + r_j). */
export function inferBonds(atomicNumbers: Uint8Array, xyz: ArrayLike<number>): { bonds: Int32Array; bondOrders: Uint8Array } {
  const n = atomicNumbers.length;
  const bonds: number[] = [];
  const orders: BondOrder[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = xyz[3 * i] - xyz[3 * j];
      const dy = xyz[3 * i + 1] - xyz[3 * j + 1];
      const dz = xyz[3 * i + 2] - xyz[3 * j + 2];
      const d = Math.sqrt(dx * dx + dy * dy + dz * dz);
      const single = radius(atomicNumbers[i]) + radius(atomicNumbers[j]);
      if (d < 0.4 || d >= single + 0.4) continue;
      bonds.push(i, j);
      const hydrogen = atomicNumbers[i] === 1 || atomicNumbers[j] === 1;
      const ratio = d / single;
      orders.push(hydrogen ? 1 : ratio <= 0.85 ? 3 : ratio <= 0.93 ? 2 : 1);
    }
  }
  return { bonds: Int32Array.from(bonds), bondOrders: Uint8Array.from(orders) };
}

type Entry = { conformers?: unknown };

/** Byte chunks of `file`: gunzipped if it ends in .gz/.tgz, the first *.msgpack member if it is a tar. */
function fileChunks(file: string, counter: { bytes: number }): { chunks: AsyncIterable<Uint8Array>; close: () => void } {
  const raw = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  raw.on("data", (c) => (counter.bytes += c.length));
  const gz = /\.(t?gz)$/i.test(file);
  const stream = gz ? raw.pipe(zlib.createGunzip()) : raw;
  if (gz) raw.on("error", (e) => stream.destroy(e));
  const tar = /\.(tar\.gz|tgz|tar)$/i.test(file);
  const chunks = tar ? tarMember(stream as AsyncIterable<Buffer>, (name) => name.endsWith(".msgpack"), file) : (stream as AsyncIterable<Uint8Array>);
  return {
    chunks,
    close: () => {
      stream.destroy();
      raw.destroy();
    },
  };
}

/** The bytes of the first member of a tar stream whose name `want` accepts (ustar and GNU headers). */
export async function* tarMember(source: AsyncIterable<Buffer>, want: (name: string) => boolean, where: string): AsyncGenerator<Uint8Array> {
  let pending = Buffer.alloc(0);
  let mode: "header" | "data" | "skip" = "header";
  let remaining = 0;
  let padding = 0;
  let longName: string | null = null;
  let longNameBuf: Buffer[] | null = null;
  for await (const chunk of source) {
    let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    pending = Buffer.alloc(0);
    while (buf.length > 0) {
      if (mode === "header") {
        if (buf.length < 512) {
          pending = Buffer.from(buf);
          break;
        }
        const header = buf.subarray(0, 512);
        buf = buf.subarray(512);
        if (header.every((b) => b === 0)) throw new DataError(where, "the tar archive holds no *.msgpack file");
        const field = (o: number, len: number) => header.subarray(o, o + len).toString("latin1").replace(/\0.*$/s, "");
        const size = parseInt(field(124, 12).trim() || "0", 8);
        if (!Number.isFinite(size)) throw new DataError(where, "corrupt tar header (bad size)");
        const type = field(156, 1) || "0";
        const prefix = field(345, 155);
        const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
        longName = null;
        remaining = size;
        padding = (512 - (size % 512)) % 512;
        if (type === "L") {
          longNameBuf = [];
          mode = "data";
        } else if ((type === "0" || type === "7") && want(name)) {
          mode = "data";
          longNameBuf = null;
        } else mode = "skip";
        if (remaining === 0) {
          if (mode === "data" && longNameBuf === null) return;
          mode = "skip";
        }
        continue;
      }
      const take = Math.min(remaining, buf.length);
      if (mode === "data") {
        if (longNameBuf) longNameBuf.push(Buffer.from(buf.subarray(0, take)));
        else if (take > 0) yield buf.subarray(0, take);
      }
      buf = buf.subarray(take);
      remaining -= take;
      if (remaining === 0) {
        if (mode === "data" && !longNameBuf) return; // the member is complete
        if (longNameBuf) {
          longName = Buffer.concat(longNameBuf).toString("utf8").replace(/\0.*$/s, "");
          longNameBuf = null;
        }
        // skip the padding to the next 512-byte block
        mode = "skip";
        remaining = padding;
        padding = 0;
        if (remaining === 0) mode = "header";
        else {
          const pad = Math.min(remaining, buf.length);
          buf = buf.subarray(pad);
          remaining -= pad;
          if (remaining === 0) mode = "header";
        }
      }
    }
  }
  throw new DataError(where, "truncated tar archive (no complete *.msgpack member)");
}

/**
 * Streams a GEOM msgpack file (plain, .gz, or the .tar.gz archive), keeping the first `maxMolecules`
 * molecules that pass the filters, each with its `maxConformers` conformers of highest Boltzmann weight.
 */
export async function readGeomMsgpack(file: string, opts: GeomReadOptions): Promise<GeomReadResult> {
  if (!fs.existsSync(file)) throw new DataError(file, "no such file");
  if (!fs.statSync(file).isFile()) throw new DataError(file, "not a file");
  const counter = { bytes: 0 };
  const { chunks, close } = fileChunks(file, counter);
  try {
    return await readGeomStream(chunks, file, opts, counter);
  } finally {
    close();
  }
}

/**
 * The streaming reader behind readGeomMsgpack: msgpack bytes in chunks of any size (`where` names the
 * source in errors). Stops consuming `chunks` once `maxMolecules` molecules are kept.
 */
export async function readGeomStream(chunks: AsyncIterable<Uint8Array>, where: string, opts: GeomReadOptions, counter: { bytes: number } = { bytes: 0 }): Promise<GeomReadResult> {
  checkInt("maxMolecules", opts.maxMolecules, { min: 1 });
  checkInt("maxConformers", opts.maxConformers, { min: 1 });
  const molecules: MoleculeGraph[] = [];
  const conformers: Conformer[] = [];
  const skipped: Record<string, number> = {};
  const skip = (why: string) => (skipped[why] = (skipped[why] ?? 0) + 1);
  let read = 0;
  let objects = 0;
  let complete = false;
  const decoder = new Decoder();
  try {
    outer: for await (const obj of decoder.decodeStream(chunks)) {
      objects++;
      if (typeof obj !== "object" || obj === null || Array.isArray(obj) || obj instanceof Uint8Array) {
        throw new DataError(where, `top-level object ${objects} is not a map of SMILES to molecule records (a GEOM crude msgpack file?)`);
      }
      for (const [smiles, entry] of Object.entries(obj as Record<string, Entry>)) {
        read++;
        if (read % 200 === 0) opts.onProgress?.({ read, kept: molecules.length, bytes: counter.bytes });
        const kept = parseMolecule(smiles, entry, opts, where);
        if (typeof kept === "string") {
          skip(kept);
          continue;
        }
        const mi = molecules.length;
        molecules.push(kept.graph);
        for (const xyz of kept.xyz) conformers.push({ molecule: mi, xyz });
        if (molecules.length >= opts.maxMolecules) break outer;
      }
    }
    complete = molecules.length < opts.maxMolecules; // read to the end (not stopped early)
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(where, `corrupt or truncated msgpack after ${read} molecules: ${(e as Error).message}`);
  }
  // At the end of the stream the decoder drops an incomplete last object silently: ask it.
  // (unread bytes, a partly decoded container on its stack, or a partly read head byte).
  const state = decoder as unknown as { hasRemaining(n: number): boolean; stack?: { length: number }; headByte?: number };
  if (complete && (state.hasRemaining(1) || (state.stack?.length ?? 0) > 0 || (state.headByte ?? -1) !== -1)) {
    throw new DataError(where, `truncated: the stream ends inside a msgpack object (after ${read} molecules)`);
  }
  opts.onProgress?.({ read, kept: molecules.length, bytes: counter.bytes });
  if (objects === 0) throw new DataError(where, "empty: no msgpack objects");
  return { set: { molecules, conformers }, read, skipped };
}

/** A molecule record → its graph and top conformers, or the reason it is skipped. */
function parseMolecule(smiles: string, entry: Entry, opts: GeomReadOptions, file: string): { graph: MoleculeGraph; xyz: Float32Array[] } | string {
  if (typeof entry !== "object" || entry === null) throw new DataError(file, `molecule ${smiles}: record is not a map`);
  const list = entry.conformers;
  if (!Array.isArray(list)) throw new DataError(file, `molecule ${smiles}: no "conformers" list`);
  if (list.length < Math.max(1, opts.minConformers ?? 1)) return "too few conformers";
  const ranked = list
    .map((c, i) => ({ c: c as { xyz?: unknown; boltzmannweight?: unknown }, i }))
    .map(({ c, i }) => ({ c, i, w: typeof c?.boltzmannweight === "number" ? c.boltzmannweight : 0 }))
    .sort((a, b) => b.w - a.w || a.i - b.i)
    .slice(0, opts.maxConformers);
  let atomicNumbers: Uint8Array | null = null;
  const out: Float32Array[] = [];
  for (const { c } of ranked) {
    const rows = c?.xyz;
    if (!Array.isArray(rows) || rows.length === 0) throw new DataError(file, `molecule ${smiles}: a conformer has no "xyz" rows`);
    const zs: number[] = [];
    const coords: number[] = [];
    for (const row of rows) {
      if (!Array.isArray(row) || row.length < 4 || !row.every((v) => typeof v === "number" && Number.isFinite(v))) {
        throw new DataError(file, `molecule ${smiles}: an "xyz" row is not [atomic number, x, y, z]`);
      }
      const z = row[0] as number;
      if (z === 1 && !opts.hydrogens) continue;
      zs.push(z);
      coords.push(row[1] as number, row[2] as number, row[3] as number);
    }
    if (!atomicNumbers) atomicNumbers = Uint8Array.from(zs);
    else if (zs.length !== atomicNumbers.length || zs.some((z, k) => z !== atomicNumbers![k])) return "conformers disagree on atoms";
    out.push(Float32Array.from(coords));
  }
  if (!atomicNumbers || atomicNumbers.length < 2) return "fewer than 2 atoms";
  if (opts.maxAtoms !== undefined && atomicNumbers.length > opts.maxAtoms) return "too many atoms";
  const { bonds, bondOrders } = inferBonds(atomicNumbers, out[0]);
  return { graph: { smiles, atomicNumbers, bonds, bondOrders }, xyz: out };
}

// ---------------------------------------------------------------------------------------------------
// Locating the files

export interface GeomLocateOptions extends DownloadOptions {
  /** A directory holding the file or its archive; default $COLLAPSE_GEOM_DIR. Never downloads. */
  localDir?: string;
  /** Download cache; default $COLLAPSE_DATA_DIR, else <packageRoot>/data/cache (a "geom" folder in it). */
  cacheDir?: string;
  /** Archive URL; default $COLLAPSE_GEOM_URL_DRUGS / _QM9, else GEOM_ARCHIVE_URLS. */
  url?: string;
  /** Allow downloading when no local or cached copy exists (default true). */
  download?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface GeomFile {
  path: string;
  source: "local" | "cache" | "download";
}

function candidates(dir: string, dataset: GeomDataset): string[] {
  const name = GEOM_FILES[dataset];
  return [name, `${name}.tar.gz`, `${name}.gz`].map((n) => path.join(dir, n));
}

function howToGet(dataset: GeomDataset): string {
  const name = GEOM_FILES[dataset];
  return (
    `download ${name}.tar.gz from GEOM's Harvard Dataverse (${GEOM_DOI}; ${GEOM_ARCHIVE_URLS[dataset]}) ` +
    `and put it, or the extracted ${name}, in a directory named by COLLAPSE_GEOM_DIR ` +
    `(any file in that format also works: data "msgpack:PATH"), or use the embedded set (data "embedded")`
  );
}

/** A local or cached GEOM file that is already there (never downloads; null when there is none). */
export function findGeomFile(dataset: GeomDataset, opts: GeomLocateOptions = {}): GeomFile | null {
  const { localDir, dir } = geomDirs(opts);
  if (localDir !== undefined) {
    const found = candidates(localDir, dataset).find((f) => fs.existsSync(f));
    return found ? { path: found, source: "local" } : null;
  }
  const cached = candidates(dir, dataset).find((f) => fs.existsSync(f));
  return cached ? { path: cached, source: "cache" } : null;
}

function geomDirs(opts: GeomLocateOptions): { localDir?: string; dir: string } {
  const env = opts.env ?? process.env;
  return {
    localDir: opts.localDir ?? (env.COLLAPSE_GEOM_DIR || undefined),
    dir: path.join(opts.cacheDir ?? (env.COLLAPSE_DATA_DIR || path.join(packageRoot(), "data", "cache")), "geom"),
  };
}

/** The path of a GEOM file: a local copy, the cache, or a download into the cache. */
export async function geomFile(dataset: GeomDataset, opts: GeomLocateOptions = {}): Promise<GeomFile> {
  const found = findGeomFile(dataset, opts);
  if (found) return found;
  const env = opts.env ?? process.env;
  const { localDir, dir } = geomDirs(opts);
  if (localDir !== undefined) throw new DataError(localDir, `holds no ${GEOM_FILES[dataset]} (nor its .tar.gz): ${howToGet(dataset)}`);
  if (opts.download === false) throw new DataError(dir, `no cached ${GEOM_FILES[dataset]} and downloading is off: ${howToGet(dataset)}`);
  const url = opts.url ?? (env[`COLLAPSE_GEOM_URL_${dataset.toUpperCase()}`] || GEOM_ARCHIVE_URLS[dataset]);
  const dest = path.join(dir, `${GEOM_FILES[dataset]}.tar.gz`);
  try {
    await downloadFile(url, dest, opts);
  } catch (e) {
    if (e instanceof OfflineError) {
      throw new DataError(url, `cannot download GEOM (${e.reason}). Offline? Then ${howToGet(dataset)}`);
    }
    if (e instanceof DataError) throw new DataError(url, `${e.message}; ${howToGet(dataset)}`);
    throw e;
  }
  return { path: dest, source: "download" };
}

/** A data spec of the molecule experiments. */
export type MoleculeDataSpec = { kind: "embedded" } | { kind: "geom"; dataset: GeomDataset } | { kind: "msgpack"; path: string };

export function parseMoleculeDataSpec(spec: unknown, field = "data"): MoleculeDataSpec {
  if (spec === "embedded") return { kind: "embedded" };
  if (spec === "geom-drugs") return { kind: "geom", dataset: "drugs" };
  if (spec === "geom-qm9") return { kind: "geom", dataset: "qm9" };
  if (typeof spec === "string" && spec.startsWith("msgpack:") && spec.length > "msgpack:".length) return { kind: "msgpack", path: spec.slice("msgpack:".length) };
  throw new ConfigError(field, `expected "embedded", "geom-drugs", "geom-qm9" or "msgpack:PATH", got ${JSON.stringify(spec)}`);
}
