import type { DataCodec } from "../collapse/modality";
import { DataError } from "../errors";

/**
 * Molecular graphs and sets of 3D conformations (§3.2). Coordinates are in ångström. The kit models
 * heavy atoms only by default (hydrogens are dropped when data is read and never generated): a
 * conformation is the positions of the molecule's heavy atoms, in the order of `atomicNumbers`.
 */

/** Bond orders as stored: 1, 2, 3 single/double/triple, 4 aromatic (or a bond between 1 and 2). */
export const BOND_ORDERS = [1, 2, 3, 4] as const;
export type BondOrder = (typeof BOND_ORDERS)[number];
export const AROMATIC: BondOrder = 4;

export interface MoleculeGraph {
  /** A SMILES string naming the molecule (the GEOM key, or the SMILES the embedded grammar wrote). */
  readonly smiles: string;
  /** Atomic number of every atom, in conformation order. */
  readonly atomicNumbers: Uint8Array;
  /** Bonded atom pairs, flattened: bond k joins atoms bonds[2k] and bonds[2k+1]. */
  readonly bonds: Int32Array;
  /** Order of bond k (see BondOrder). */
  readonly bondOrders: Uint8Array;
}

export interface Conformer {
  /** Index into the set's `molecules`. */
  readonly molecule: number;
  /** x, y, z of every atom of the molecule, flattened (3 × atoms). */
  readonly xyz: Float32Array;
}

/** A set of conformations: the molecules they belong to, and the conformers (any number per molecule). */
export interface ConformationSet {
  readonly molecules: readonly MoleculeGraph[];
  readonly conformers: readonly Conformer[];
}

export function atomCount(m: MoleculeGraph): number {
  return m.atomicNumbers.length;
}

export function bondCount(m: MoleculeGraph): number {
  return m.bondOrders.length;
}

/** Checks the internal consistency of a set (indices, lengths, finite coordinates); `where` names it in errors. */
export function checkConformationSet(set: ConformationSet, where: string): void {
  set.molecules.forEach((m, i) => {
    const n = m.atomicNumbers.length;
    if (n === 0) throw new DataError(where, `molecule ${i} (${m.smiles}) has no atoms`);
    if (m.bonds.length !== 2 * m.bondOrders.length) throw new DataError(where, `molecule ${i}: ${m.bonds.length} bond ends for ${m.bondOrders.length} bonds`);
    for (let k = 0; k < m.bonds.length; k++) {
      if (m.bonds[k] < 0 || m.bonds[k] >= n) throw new DataError(where, `molecule ${i}: bond atom ${m.bonds[k]} out of range (${n} atoms)`);
    }
    for (const o of m.bondOrders) if (o < 1 || o > 4) throw new DataError(where, `molecule ${i}: bond order ${o} is not 1-4`);
  });
  set.conformers.forEach((c, j) => {
    const m = set.molecules[c.molecule];
    if (!m) throw new DataError(where, `conformer ${j} refers to molecule ${c.molecule}, the set has ${set.molecules.length}`);
    if (c.xyz.length !== 3 * m.atomicNumbers.length) throw new DataError(where, `conformer ${j} has ${c.xyz.length / 3} atoms, molecule ${c.molecule} has ${m.atomicNumbers.length}`);
    for (const v of c.xyz) if (!Number.isFinite(v)) throw new DataError(where, `conformer ${j} has a non-finite coordinate`);
  });
}

/** The conformers at `indices`, with only the molecules they use (renumbered in first-use order). */
export function selectConformers(set: ConformationSet, indices: ArrayLike<number>): ConformationSet {
  const remap = new Map<number, number>();
  const molecules: MoleculeGraph[] = [];
  const conformers: Conformer[] = [];
  for (let k = 0; k < indices.length; k++) {
    const c = set.conformers[indices[k]];
    if (!c) throw new RangeError(`conformer index ${indices[k]} out of range (${set.conformers.length})`);
    let m = remap.get(c.molecule);
    if (m === undefined) {
      m = molecules.length;
      remap.set(c.molecule, m);
      molecules.push(set.molecules[c.molecule]);
    }
    conformers.push({ molecule: m, xyz: c.xyz });
  }
  return { molecules, conformers };
}

/**
 * The union of several sets: molecules with the same SMILES and atoms are merged (so real and synthetic
 * conformations of one molecule share its graph), conformers keep their order.
 */
export function mergeConformationSets(sets: readonly ConformationSet[]): ConformationSet {
  const byKey = new Map<string, number>();
  const molecules: MoleculeGraph[] = [];
  const conformers: Conformer[] = [];
  for (const set of sets) {
    const local = set.molecules.map((m) => {
      const key = moleculeKey(m);
      let idx = byKey.get(key);
      if (idx === undefined) {
        idx = molecules.length;
        byKey.set(key, idx);
        molecules.push(m);
      }
      return idx;
    });
    for (const c of set.conformers) conformers.push({ molecule: local[c.molecule], xyz: c.xyz });
  }
  return { molecules, conformers };
}

/** Identity of a molecule graph across sets (SMILES plus its atoms, since GEOM keys are not canonical). */
export function moleculeKey(m: MoleculeGraph): string {
  return `${m.smiles}|${Array.from(m.atomicNumbers).join(",")}`;
}

/** Conformer indices grouped by molecule index. */
export function conformersByMolecule(set: ConformationSet): number[][] {
  const out: number[][] = set.molecules.map(() => []);
  set.conformers.forEach((c, j) => out[c.molecule].push(j));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Binary codec

const MAGIC = 0x314c4f4d; // "MOL1" little-endian

/**
 * Layout: magic (u32), header length (u32), a UTF-8 JSON header {molecules: [{smiles, atoms, bonds,
 * orders}], conformers: [molecule index per conformer]}, zero padding to a multiple of 4, then every
 * conformer's coordinates as float32 (little-endian), in order.
 */
export const conformationCodec: DataCodec<ConformationSet> = {
  encode(set) {
    const header = JSON.stringify({
      molecules: set.molecules.map((m) => ({ smiles: m.smiles, atoms: Array.from(m.atomicNumbers), bonds: Array.from(m.bonds), orders: Array.from(m.bondOrders) })),
      conformers: set.conformers.map((c) => c.molecule),
    });
    const head = Buffer.from(header, "utf8");
    const padded = Math.ceil(head.length / 4) * 4;
    const floats = set.conformers.reduce((s, c) => s + c.xyz.length, 0);
    const buf = Buffer.alloc(8 + padded + 4 * floats);
    buf.writeUInt32LE(MAGIC, 0);
    buf.writeUInt32LE(head.length, 4);
    head.copy(buf, 8);
    let o = 8 + padded;
    for (const c of set.conformers) for (let i = 0; i < c.xyz.length; i++, o += 4) buf.writeFloatLE(c.xyz[i], o);
    return buf;
  },
  decode(bytes) {
    return decodeConformations(bytes, "conformation set");
  },
};

/** Decodes the codec's bytes; `where` (a path) names the culprit of any error. */
export function decodeConformations(bytes: Uint8Array, where: string): ConformationSet {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8 || buf.readUInt32LE(0) !== MAGIC) throw new DataError(where, "not a collapse-kit conformation set (bad magic)");
  const headLength = buf.readUInt32LE(4);
  const padded = Math.ceil(headLength / 4) * 4;
  if (buf.length < 8 + padded) throw new DataError(where, "truncated header");
  let header: { molecules: { smiles: string; atoms: number[]; bonds: number[]; orders: number[] }[]; conformers: number[] };
  try {
    header = JSON.parse(buf.subarray(8, 8 + headLength).toString("utf8"));
  } catch (e) {
    throw new DataError(where, `corrupt header: ${(e as Error).message}`);
  }
  if (!Array.isArray(header.molecules) || !Array.isArray(header.conformers)) throw new DataError(where, "corrupt header: no molecules/conformers");
  const molecules: MoleculeGraph[] = header.molecules.map((m) => ({
    smiles: String(m.smiles),
    atomicNumbers: Uint8Array.from(m.atoms),
    bonds: Int32Array.from(m.bonds),
    bondOrders: Uint8Array.from(m.orders),
  }));
  const floats = header.conformers.reduce((s, mi) => s + 3 * (molecules[mi]?.atomicNumbers.length ?? 0), 0);
  if (buf.length !== 8 + padded + 4 * floats) throw new DataError(where, `truncated or corrupt: ${buf.length} bytes, expected ${8 + padded + 4 * floats}`);
  let o = 8 + padded;
  const conformers: Conformer[] = header.conformers.map((mi) => {
    const xyz = new Float32Array(3 * molecules[mi].atomicNumbers.length);
    for (let i = 0; i < xyz.length; i++, o += 4) xyz[i] = buf.readFloatLE(o);
    return { molecule: mi, xyz };
  });
  const set = { molecules, conformers };
  checkConformationSet(set, where);
  return set;
}
