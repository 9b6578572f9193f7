import * as fs from "node:fs";
import * as path from "node:path";
import { fork } from "node:child_process";
import { createHash } from "node:crypto";
import * as OCL from "openchemlib";
import { ConfigError, type SerializedError, checkInt, deserializeError } from "../errors";
import { packageRoot } from "../environment";
import { Rng } from "../random";
import { writeFileAtomic } from "../store/runStore";
import { type BondOrder, type ConformationSet, type Conformer, type MoleculeGraph, conformationCodec, decodeConformations, selectConformers } from "./types";

/** What the generator process (embeddedWorker.ts) sends back; defined here so that it need not be imported from there. */
export type EmbeddedWorkerMessage =
  | { type: "progress"; molecules: number; target: number; attempts: number }
  | { type: "done"; bytes: Uint8Array }
  | { type: "error"; error: SerializedError };

/**
 * The embedded default data of §3.2: a seeded set of small drug-like molecules written by a fragment
 * grammar (rings joined by linkers, decorated with functional groups), each validated and canonicalised
 * by openchemlib, with several 3D conformers from openchemlib's ConformerGenerator (torsions drawn from
 * its torsion library, hydrogens placed and then dropped). Only heavy atoms are kept: the conformations
 * are heavy-atom coordinates, as in the rest of the kit.
 *
 * Generating takes roughly 0.2 s per molecule on one core (the first molecule ~2 s while openchemlib
 * warms up; MMFF94 minimisation adds 0.1-0.6 s per conformer), so a generated set is cached as a file
 * keyed by every generation parameter, the seed and the openchemlib version.
 */
export interface EmbeddedSpec {
  /** Distinct molecules to generate. */
  molecules: number;
  /** Conformers per molecule (rigid molecules may get fewer: the generator stops when it finds no new torsion set). */
  conformers: number;
  seed: number;
  /** Heavy-atom count bounds (inclusive). */
  minAtoms: number;
  maxAtoms: number;
  /** MMFF94s+ minimisation of every conformer (with hydrogens) before the hydrogens are dropped. */
  minimise: boolean;
}

export const EMBEDDED_DEFAULTS: Omit<EmbeddedSpec, "molecules" | "conformers" | "seed"> = { minAtoms: 10, maxAtoms: 40, minimise: false };

/** Bump when the grammar or the conversion changes: old caches must not be reused. */
export const EMBEDDED_GENERATOR_VERSION = 1;

export function checkEmbeddedSpec(s: EmbeddedSpec, field = "embedded"): EmbeddedSpec {
  checkInt(`${field}.molecules`, s.molecules, { min: 1, max: 1_000_000 });
  checkInt(`${field}.conformers`, s.conformers, { min: 1, max: 1000 });
  checkInt(`${field}.seed`, s.seed, { min: 0 });
  checkInt(`${field}.minAtoms`, s.minAtoms, { min: 2 });
  checkInt(`${field}.maxAtoms`, s.maxAtoms, { min: s.minAtoms });
  if (typeof s.minimise !== "boolean") throw new ConfigError(`${field}.minimise`, "expected a boolean");
  return s;
}

// ---------------------------------------------------------------------------------------------------
// The fragment grammar

interface RingTemplate {
  name: string;
  /** SMILES atom tokens around the ring. */
  atoms: string[];
}

const RINGS: RingTemplate[] = [
  { name: "benzene", atoms: ["c", "c", "c", "c", "c", "c"] },
  { name: "benzene", atoms: ["c", "c", "c", "c", "c", "c"] },
  { name: "pyridine", atoms: ["c", "c", "n", "c", "c", "c"] },
  { name: "pyrimidine", atoms: ["c", "n", "c", "n", "c", "c"] },
  { name: "thiophene", atoms: ["c", "s", "c", "c", "c"] },
  { name: "furan", atoms: ["c", "o", "c", "c", "c"] },
  { name: "thiazole", atoms: ["c", "s", "c", "n", "c"] },
  { name: "cyclohexane", atoms: ["C", "C", "C", "C", "C", "C"] },
  { name: "cyclopentane", atoms: ["C", "C", "C", "C", "C"] },
  { name: "cyclopropane", atoms: ["C", "C", "C"] },
  { name: "piperidine", atoms: ["N", "C", "C", "C", "C", "C"] },
  { name: "piperazine", atoms: ["N", "C", "C", "N", "C", "C"] },
  { name: "morpholine", atoms: ["N", "C", "C", "O", "C", "C"] },
  { name: "pyrrolidine", atoms: ["N", "C", "C", "C", "C"] },
  { name: "oxane", atoms: ["C", "C", "C", "O", "C", "C"] },
];

/** Atoms that may carry a substituent (no aromatic heteroatoms, no ring oxygen). */
function substitutable(token: string): boolean {
  return token === "c" || token === "C" || token === "N";
}

/** Groups between two rings, written left to right. */
const LINKERS = ["", "", "C", "CC", "C(=O)N", "NC(=O)", "O", "OC", "CO", "S(=O)(=O)N", "N", "C(=O)", "NC(=O)N", "CCN", "C(C)"];

/** Terminal groups in a branch, bonded through their first atom. */
const SUBSTITUENTS = ["F", "Cl", "Br", "C", "C", "OC", "C(F)(F)F", "C#N", "O", "N", "C(=O)O", "C(=O)N", "CC", "C(C)C", "OC(F)(F)F", "S(C)(=O)=O", "C(C)=O", "N(C)C", "CO", "NC(C)=O"];

/** Terminal groups before the first ring, bonded through their last atom. */
const PREFIXES = ["", "", "C", "CO", "FC(F)(F)", "CC(=O)N", "CN(C)", "N#C", "COC(=O)", "CCO", "CC(C)(C)OC(=O)N", "OCC"];

function pick<T>(items: readonly T[], rng: Rng): T {
  return items[rng.int(items.length)];
}

/**
 * One ring written with ring-closure digit `digit`, entered at its atom 0 (rotated so that atom 0 is
 * substitutable), with branches at other positions.
 */
function writeRing(t: RingTemplate, digit: number, branches: Map<number, string>, rotation: number): string {
  const n = t.atoms.length;
  const atoms = t.atoms.map((_, i) => t.atoms[(i + rotation) % n]);
  const d = String(digit);
  let s = atoms[0] + d;
  for (let k = 1; k < n; k++) {
    s += atoms[k];
    if (k === n - 1) s += d;
    const b = branches.get(k);
    if (b) s += `(${b})`;
  }
  return s;
}

/** A random molecule of `rings` rings as a SMILES string (not yet validated). */
function randomSmiles(rng: Rng): string {
  const r = rng.uniform();
  const rings = r < 0.3 ? 1 : r < 0.85 ? 2 : 3;
  const build = (level: number): string => {
    const t = pick(RINGS, rng);
    const n = t.atoms.length;
    // Saturated rings enter through their nitrogen when they have one and carry no decorations:
    // substituted ring carbons are stereocentres, and openchemlib's ring-conformer search for every new
    // substituted saturated ring costs seconds (aromatic rings cost milliseconds once seen).
    const aliphatic = t.atoms.every((a) => a === a.toUpperCase());
    const nitrogens = t.atoms.map((a, i) => (a === "N" ? i : -1)).filter((i) => i >= 0);
    const entries = aliphatic && nitrogens.length > 0 ? nitrogens : t.atoms.map((a, i) => (substitutable(a) ? i : -1)).filter((i) => i >= 0);
    const rotation = pick(entries, rng);
    const rotated = t.atoms.map((_, i) => t.atoms[(i + rotation) % n]);
    const free = rotated.map((a, i) => (i > 0 && substitutable(a) ? i : -1)).filter((i) => i >= 0);
    const branches = new Map<number, string>();
    const take = () => {
      if (free.length === 0) return -1;
      const k = rng.int(free.length);
      const pos = free[k];
      free.splice(k, 1);
      return pos;
    };
    if (level + 1 < rings) {
      const pos = take();
      if (pos >= 0) branches.set(pos, pick(LINKERS, rng) + build(level + 1));
    }
    const subs = aliphatic ? 0 : rng.int(3); // 0, 1 or 2 decorations
    for (let i = 0; i < subs; i++) {
      const pos = take();
      if (pos >= 0) branches.set(pos, pick(SUBSTITUENTS, rng));
    }
    return writeRing(t, level + 1, branches, rotation);
  };
  return pick(PREFIXES, rng) + build(0);
}

let resourcesRegistered = false;

/** openchemlib's conformer generator needs its torsion tables registered once. */
function ensureResources(): void {
  if (resourcesRegistered) return;
  OCL.Resources.registerFromNodejs();
  resourcesRegistered = true;
}

/** The heavy-atom graph and coordinates of an openchemlib molecule (with 3D coordinates). */
export function heavyAtomGraph(mol: OCL.Molecule, smiles: string): { graph: MoleculeGraph; heavy: number[] } {
  mol.ensureHelperArrays(OCL.Molecule.cHelperRings);
  const heavy: number[] = [];
  const index = new Map<number, number>();
  for (let a = 0; a < mol.getAllAtoms(); a++) {
    if (mol.getAtomicNo(a) !== 1) {
      index.set(a, heavy.length);
      heavy.push(a);
    }
  }
  const bonds: number[] = [];
  const orders: number[] = [];
  for (let b = 0; b < mol.getAllBonds(); b++) {
    const i = index.get(mol.getBondAtom(0, b));
    const j = index.get(mol.getBondAtom(1, b));
    if (i === undefined || j === undefined) continue;
    bonds.push(i, j);
    const order: BondOrder = mol.isAromaticBond(b) ? 4 : (Math.min(3, Math.max(1, mol.getBondOrder(b))) as BondOrder);
    orders.push(order);
  }
  const graph: MoleculeGraph = {
    smiles,
    atomicNumbers: Uint8Array.from(heavy, (a) => mol.getAtomicNo(a)),
    bonds: Int32Array.from(bonds),
    bondOrders: Uint8Array.from(orders),
  };
  return { graph, heavy };
}

function coordinates(mol: OCL.Molecule, heavy: readonly number[]): Float32Array {
  const xyz = new Float32Array(3 * heavy.length);
  heavy.forEach((a, i) => {
    xyz[3 * i] = mol.getAtomX(a);
    xyz[3 * i + 1] = mol.getAtomY(a);
    xyz[3 * i + 2] = mol.getAtomZ(a);
  });
  return xyz;
}

export interface GenerationProgress {
  molecules: number;
  target: number;
  attempts: number;
}

/**
 * Generates the embedded set (see the module comment). The grammar draws from Rng.derive(seed,
 * "embedded-molecules") and each molecule's conformer generator gets a seed from it, but openchemlib
 * also reuses ring conformations it found for earlier molecules of the process: the set is a function
 * of its spec only in a fresh process, which is what generateInFreshProcess (and the cache) use.
 */
export async function generateEmbeddedConformations(spec: EmbeddedSpec, onProgress?: (p: GenerationProgress) => void): Promise<ConformationSet> {
  checkEmbeddedSpec(spec);
  ensureResources();
  const rng = Rng.derive(spec.seed, "embedded-molecules");
  const seen = new Set<string>();
  const molecules: MoleculeGraph[] = [];
  const conformers: Conformer[] = [];
  let attempts = 0;
  const maxAttempts = 50 * spec.molecules + 1000;
  let lastReport = performance.now();
  while (molecules.length < spec.molecules) {
    if (++attempts > maxAttempts) {
      throw new ConfigError("embedded.molecules", `the grammar produced only ${molecules.length} valid molecules with ${spec.minAtoms}-${spec.maxAtoms} heavy atoms in ${maxAttempts} attempts`);
    }
    const smiles = randomSmiles(rng);
    const genSeed = rng.int(2 ** 31 - 1);
    let mol: OCL.Molecule;
    try {
      mol = OCL.Molecule.fromSmiles(smiles);
    } catch {
      continue;
    }
    mol.ensureHelperArrays(OCL.Molecule.cHelperRings);
    const atoms = mol.getAtoms();
    if (atoms < spec.minAtoms || atoms > spec.maxAtoms) continue;
    if (mol.getAllAtoms() !== atoms || hasBadValence(mol)) continue;
    const id = mol.getIDCode();
    if (seen.has(id)) continue;
    const gen = new OCL.ConformerGenerator(genSeed);
    if (!gen.initializeConformers(mol, { strategy: OCL.ConformerGenerator.STRATEGY_LIKELY_RANDOM, maxTorsionSets: 1000 })) continue;
    const confs: OCL.Molecule[] = [];
    for (let k = 0; k < spec.conformers; k++) {
      const c = gen.getNextConformerAsMolecule();
      if (!c) break;
      if (spec.minimise) new OCL.ForceFieldMMFF94(c, "MMFF94s+", {}).minimise({ maxIts: 500 });
      confs.push(c);
    }
    if (confs.length === 0) continue;
    seen.add(id);
    const canonical = mol.toSmiles();
    const { graph, heavy } = heavyAtomGraph(confs[0], canonical);
    if (graph.atomicNumbers.length !== atoms) continue;
    const mi = molecules.length;
    molecules.push(graph);
    for (const c of confs) conformers.push({ molecule: mi, xyz: coordinates(c, heavy) });
    if (performance.now() - lastReport > 500) {
      onProgress?.({ molecules: molecules.length, target: spec.molecules, attempts });
      await new Promise((resolve) => setImmediate(resolve));
      lastReport = performance.now();
    }
  }
  onProgress?.({ molecules: molecules.length, target: spec.molecules, attempts });
  return { molecules, conformers };
}

/** Atoms whose valence openchemlib flags as abnormal (the grammar can over-substitute a nitrogen). */
function hasBadValence(mol: OCL.Molecule): boolean {
  for (let a = 0; a < mol.getAtoms(); a++) {
    if (mol.getAtomAbnormalValence(a) !== -1) return true;
    if (mol.getAtomCharge(a) !== 0) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------
// Cache

export interface EmbeddedOptions {
  /** Cache directory; default $COLLAPSE_DATA_DIR, else <packageRoot>/data/cache (a "molecules" folder in it). */
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
  onStatus?: (message: string) => void;
  onProgress?: (p: GenerationProgress) => void;
}

export interface EmbeddedResult {
  set: ConformationSet;
  file: string;
  /** "shipped": one of the sets in the kit's data/molecules (those of the smoke and quick profiles). */
  source: "cache" | "shipped" | "generated";
  /** Seconds spent generating (0 when read from the cache). */
  seconds: number;
}

/** The cache file of a spec: its name hashes the spec, the generator version and openchemlib's version. */
export function embeddedCacheFile(spec: EmbeddedSpec, opts: EmbeddedOptions = {}): string {
  const env = opts.env ?? process.env;
  const dir = path.join(opts.cacheDir ?? (env.COLLAPSE_DATA_DIR || path.join(packageRoot(), "data", "cache")), "molecules");
  const key = JSON.stringify({ v: EMBEDDED_GENERATOR_VERSION, ocl: openchemlibVersion(), ...spec });
  const hash = createHash("sha256").update(key).digest("hex").slice(0, 16);
  return path.join(dir, `embedded-${spec.molecules}x${spec.conformers}-seed${spec.seed}-${hash}.bin`);
}

function openchemlibVersion(): string {
  try {
    const pkg = path.join(packageRoot(), "node_modules", "openchemlib", "package.json");
    return (JSON.parse(fs.readFileSync(pkg, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/**
 * Where the kit ships the embedded sets of its smoke and quick profiles, under the cache's file names,
 * so that a fresh checkout does not spend minutes in openchemlib first (`npm run data:molecules` writes
 * them; a test checks that the smoke set is what the generator makes).
 */
export const SHIPPED_MOLECULES_DIR = path.join(packageRoot(), "data", "molecules");

/** The embedded set for `spec`: read from the cache or the shipped sets, or generated and cached. */
export async function embeddedConformations(spec: EmbeddedSpec, opts: EmbeddedOptions = {}): Promise<EmbeddedResult> {
  checkEmbeddedSpec(spec);
  const file = embeddedCacheFile(spec, opts);
  if (fs.existsSync(file)) {
    return { set: decodeConformations(fs.readFileSync(file), file), file, source: "cache", seconds: 0 };
  }
  const shipped = path.join(SHIPPED_MOLECULES_DIR, path.basename(file));
  if (fs.existsSync(shipped)) {
    return { set: decodeConformations(fs.readFileSync(shipped), shipped), file: shipped, source: "shipped", seconds: 0 };
  }
  opts.onStatus?.(`generating ${spec.molecules} molecules × ${spec.conformers} conformers with openchemlib (cached as ${file})`);
  const started = performance.now();
  const set = await generateInFreshProcess(spec, opts.onProgress);
  const seconds = (performance.now() - started) / 1000;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, conformationCodec.encode(set));
  return { set, file, source: "generated", seconds };
}

/** generateEmbeddedConformations in a child process of its own, so that the set depends on `spec` alone. */
export function generateInFreshProcess(spec: EmbeddedSpec, onProgress?: (p: GenerationProgress) => void): Promise<ConformationSet> {
  checkEmbeddedSpec(spec);
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, "embeddedWorker.js"), [], { serialization: "advanced", stdio: ["ignore", "ignore", "pipe", "ipc"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-2000)));
    let result: ConformationSet | null = null;
    let failure: SerializedError | null = null;
    child.on("message", (m: EmbeddedWorkerMessage) => {
      if (m.type === "progress") onProgress?.({ molecules: m.molecules, target: m.target, attempts: m.attempts });
      else if (m.type === "done") result = conformationCodec.decode(m.bytes);
      else failure = m.error;
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (result) return resolve(result);
      if (failure) return reject(deserializeError(failure));
      reject(new Error(`the molecule generator stopped (${signal ?? `exit code ${code}`})${stderr ? `: ${stderr.trim()}` : ""}`));
    });
    child.send(spec);
  });
}

// ---------------------------------------------------------------------------------------------------
// Splits

export interface MoleculeSplit {
  train: ConformationSet;
  test: ConformationSet;
}

/**
 * Splits a set by molecule: `testMolecules` molecules (a seeded choice) with all their conformers form
 * the test set, the rest the training set; no test molecule appears in training.
 */
export function splitByMolecule(set: ConformationSet, testMolecules: number, rng: Rng): MoleculeSplit {
  if (testMolecules >= set.molecules.length) {
    throw new ConfigError("testMolecules", `asks for ${testMolecules} test molecules, the data has only ${set.molecules.length}`);
  }
  const perm = rng.permutation(set.molecules.length);
  const isTest = new Uint8Array(set.molecules.length);
  for (let i = 0; i < testMolecules; i++) isTest[perm[i]] = 1;
  // Training molecules in a seeded order, so that a prefix of the training set is a random subset.
  const rank = new Int32Array(set.molecules.length);
  perm.forEach((m, i) => (rank[m] = i));
  const train: number[] = [];
  const test: number[] = [];
  set.conformers.forEach((c, j) => (isTest[c.molecule] ? test : train).push(j));
  train.sort((a, b) => rank[set.conformers[a].molecule] - rank[set.conformers[b].molecule] || a - b);
  test.sort((a, b) => rank[set.conformers[a].molecule] - rank[set.conformers[b].molecule] || a - b);
  return { train: selectConformers(set, train), test: selectConformers(set, test) };
}
