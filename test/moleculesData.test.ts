import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { decode, encode } from "@msgpack/msgpack";
import { DataError } from "../src/errors";
import { geomFile, inferBonds, parseMoleculeDataSpec, readGeomMsgpack, readGeomStream } from "../src/molecules/geom";
import { DRUGS_COVERAGE_THRESHOLD, alignedRmsd, coverageAndMatching, kabschRotation, centered } from "../src/molecules/rmsd";
import { type ConformationSet, conformationCodec, decodeConformations, mergeConformationSets, selectConformers } from "../src/molecules/types";
import { Rng } from "../src/random";
import { configErrorField, tempDir } from "./helpers";

// ---------------------------------------------------------------------------------------------------
// Fixtures

/** Ethanol-like heavy atoms C-C-O plus hydrogens, in GEOM's [Z, x, y, z] rows. */
function ethanolRows(shift = 0): number[][] {
  return [
    [6, 0 + shift, 0, 0],
    [6, 1.52, 0, 0],
    [8, 2.0, 1.35, 0],
    [1, -0.4, 1.0, 0],
    [1, -0.4, -0.5, 0.9],
    [1, 2.9, 1.4, 0.2],
  ];
}

/** A fake benzonitrile-ish heavy-atom chain for variety: C#N triple bond 1.16 Å. */
function nitrileRows(): number[][] {
  return [
    [6, 0, 0, 0],
    [6, 1.46, 0, 0],
    [7, 2.62, 0, 0],
    [1, -0.5, 0.9, 0],
  ];
}

function record(conformers: { rows: number[][]; w: number }[]) {
  return { conformers: conformers.map((c) => ({ xyz: c.rows, boltzmannweight: c.w, totalenergy: -1 })), uniqueconfs: conformers.length, charge: 0 };
}

/** Two top-level msgpack maps, as GEOM's crude files are a concatenation of maps. */
function geomBytes(): Uint8Array {
  const first = encode({
    CCO: record([
      { rows: ethanolRows(0), w: 0.2 },
      { rows: ethanolRows(0.1), w: 0.5 },
      { rows: ethanolRows(0.2), w: 0.3 },
    ]),
    "CC#N": record([{ rows: nitrileRows(), w: 1 }]),
  });
  const second = encode({
    OCCO: record([{ rows: [[8, 0, 0, 0], [6, 1.43, 0, 0], [6, 1.9, 1.45, 0], [8, 3.33, 1.45, 0]], w: 1 }]),
    "[bigger]": record([{ rows: Array.from({ length: 30 }, (_, i) => [6, 1.5 * i, 0, 0]), w: 1 }]),
  });
  const out = new Uint8Array(first.length + second.length);
  out.set(first, 0);
  out.set(second, first.length);
  return out;
}

function writeFixture(name: string, bytes: Uint8Array): string {
  const file = path.join(tempDir("geom"), name);
  fs.writeFileSync(file, bytes);
  return file;
}

/** A one-member ustar archive. */
function tarOf(name: string, data: Uint8Array): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, "latin1");
  header.write("0000644\0", 100, "latin1");
  header.write("0000000\0", 108, "latin1");
  header.write("0000000\0", 116, "latin1");
  header.write(data.length.toString(8).padStart(11, "0") + "\0", 124, "latin1");
  header.write("00000000000\0", 136, "latin1");
  header.write("0", 156, "latin1");
  header.write("ustar\0" + "00", 257, "latin1");
  header.fill(" ", 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  const pad = (512 - (data.length % 512)) % 512;
  // a README member first, so the reader has to skip one
  const readme = Buffer.from(header);
  readme.fill(0, 0, 100);
  readme.write("README.txt", 0, "latin1");
  readme.write((3).toString(8).padStart(11, "0") + "\0", 124, "latin1");
  readme.fill(" ", 148, 156);
  sum = 0;
  for (const b of readme) sum += b;
  readme.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  return Buffer.concat([readme, Buffer.from("hi\n"), Buffer.alloc(509), header, Buffer.from(data), Buffer.alloc(pad), Buffer.alloc(1024)]);
}

async function* inChunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

// ---------------------------------------------------------------------------------------------------
// GEOM reader

test("GEOM reader: parses the crude msgpack layout, drops hydrogens, keeps the highest-weight conformers", async () => {
  const file = writeFixture("drugs_crude.msgpack", geomBytes());
  const r = await readGeomMsgpack(file, { maxMolecules: 10, maxConformers: 2 });
  assert.equal(r.read, 4);
  assert.deepEqual(r.set.molecules.map((m) => m.smiles), ["CCO", "CC#N", "OCCO", "[bigger]"]);
  const ethanol = r.set.molecules[0];
  assert.deepEqual(Array.from(ethanol.atomicNumbers), [6, 6, 8]);
  // bonds C-C and C-O inferred from distances, no C...O bond across
  assert.deepEqual(Array.from(ethanol.bonds), [0, 1, 1, 2]);
  const ethConfs = r.set.conformers.filter((c) => c.molecule === 0);
  assert.equal(ethConfs.length, 2);
  // the weights were 0.2, 0.5, 0.3: kept in order 0.5 (shift 0.1), 0.3 (shift 0.2)
  assert.ok(Math.abs(ethConfs[0].xyz[0] - 0.1) < 1e-6);
  assert.ok(Math.abs(ethConfs[1].xyz[0] - 0.2) < 1e-6);
  // the C#N bond (1.16 Å) is guessed as triple
  const nitrile = r.set.molecules[1];
  assert.deepEqual(Array.from(nitrile.bondOrders), [1, 3]);
});

test("GEOM reader: molecule and atom limits stop early and skip", async () => {
  const file = writeFixture("x.msgpack", geomBytes());
  const one = await readGeomMsgpack(file, { maxMolecules: 1, maxConformers: 5 });
  assert.equal(one.set.molecules.length, 1);
  assert.equal(one.read, 1);
  assert.equal(one.set.conformers.length, 3);
  const small = await readGeomMsgpack(file, { maxMolecules: 10, maxConformers: 1, maxAtoms: 5 });
  assert.deepEqual(small.set.molecules.map((m) => m.smiles), ["CCO", "CC#N", "OCCO"]);
  assert.equal(small.skipped["too many atoms"], 1);
  const withH = await readGeomMsgpack(file, { maxMolecules: 1, maxConformers: 1, hydrogens: true });
  assert.equal(withH.set.molecules[0].atomicNumbers.length, 6);
});

test("GEOM reader: the same result from chunks of any size, and from a .tar.gz archive", async () => {
  const bytes = geomBytes();
  const whole = await readGeomStream(inChunks(bytes, bytes.length), "whole", { maxMolecules: 10, maxConformers: 3 });
  for (const size of [1, 7, 64]) {
    const r = await readGeomStream(inChunks(bytes, size), `chunks of ${size}`, { maxMolecules: 10, maxConformers: 3 });
    assert.deepEqual(conformationCodec.encode(r.set), conformationCodec.encode(whole.set));
  }
  const archive = writeFixture("drugs_crude.msgpack.tar.gz", zlib.gzipSync(tarOf("rdkit/drugs_crude.msgpack", bytes)));
  const fromTar = await readGeomMsgpack(archive, { maxMolecules: 10, maxConformers: 3 });
  assert.deepEqual(conformationCodec.encode(fromTar.set), conformationCodec.encode(whole.set));
});

test("GEOM reader: corrupt or wrong files are DataErrors naming the path", async () => {
  const bytes = geomBytes();
  const truncated = writeFixture("truncated.msgpack", bytes.subarray(0, bytes.length - 20));
  await assert.rejects(readGeomMsgpack(truncated, { maxMolecules: 10, maxConformers: 1 }), (e: unknown) => e instanceof DataError && e.message.includes(truncated));
  const notMap = writeFixture("array.msgpack", encode([1, 2, 3]));
  await assert.rejects(readGeomMsgpack(notMap, { maxMolecules: 10, maxConformers: 1 }), (e: unknown) => e instanceof DataError && e.message.includes(notMap) && /not a map/.test(e.message));
  const noConfs = writeFixture("noconfs.msgpack", encode({ C: { charge: 0 } }));
  await assert.rejects(readGeomMsgpack(noConfs, { maxMolecules: 10, maxConformers: 1 }), (e: unknown) => e instanceof DataError && /conformers/.test(e.message) && e.message.includes(noConfs));
  const garbage = writeFixture("garbage.msgpack", Buffer.from([0xc1, 0xc1, 0xc1]));
  await assert.rejects(readGeomMsgpack(garbage, { maxMolecules: 10, maxConformers: 1 }), (e: unknown) => e instanceof DataError && e.message.includes(garbage));
  const badGz = writeFixture("bad.msgpack.tar.gz", Buffer.from("not gzip at all"));
  await assert.rejects(readGeomMsgpack(badGz, { maxMolecules: 10, maxConformers: 1 }), (e: unknown) => e instanceof DataError && e.message.includes(badGz));
  await assert.rejects(readGeomMsgpack(path.join(tempDir("geom"), "missing.msgpack"), { maxMolecules: 1, maxConformers: 1 }), DataError);
});

test("GEOM files: a local directory, and offline fail-fast naming the embedded set and what to download", async () => {
  const dir = tempDir("geomdir");
  fs.writeFileSync(path.join(dir, "qm9_crude.msgpack"), geomBytes());
  const local = await geomFile("qm9", { env: { COLLAPSE_GEOM_DIR: dir } });
  assert.equal(local.source, "local");
  await assert.rejects(geomFile("drugs", { env: { COLLAPSE_GEOM_DIR: dir } }), (e: unknown) => e instanceof DataError && /drugs_crude\.msgpack/.test(e.message) && /embedded/.test(e.message));
  const started = Date.now();
  await assert.rejects(
    geomFile("drugs", { env: {}, cacheDir: tempDir("geomcache"), url: "http://127.0.0.1:9/drugs.tar.gz", progress: false, connectTimeoutMs: 5000 }),
    (e: unknown) => e instanceof DataError && /embedded/.test(e.message) && /COLLAPSE_GEOM_DIR/.test(e.message) && /Dataverse/.test(e.message),
  );
  assert.ok(Date.now() - started < 5000, "offline must fail fast");
  const cached = tempDir("geomcache");
  fs.mkdirSync(path.join(cached, "geom"));
  fs.writeFileSync(path.join(cached, "geom", "drugs_crude.msgpack.tar.gz"), "x");
  assert.equal((await geomFile("drugs", { env: {}, cacheDir: cached })).source, "cache");
});

test("GEOM files: downloaded once into the cache (the archive, read as it is), then found there", async () => {
  const bytes = geomBytes();
  const archive = zlib.gzipSync(tarOf("rdkit/drugs_crude.msgpack", bytes));
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? "");
    if (req.url !== "/drugs_crude.msgpack.tar.gz") return void res.writeHead(404).end("not found");
    res.writeHead(200, { "Content-Length": archive.length }).end(archive);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/drugs_crude.msgpack.tar.gz`;
    const cacheDir = tempDir("geomdl");
    const downloaded = await geomFile("drugs", { env: { COLLAPSE_GEOM_URL_DRUGS: url }, cacheDir, progress: false });
    assert.equal(downloaded.source, "download");
    assert.equal(downloaded.path, path.join(cacheDir, "geom", "drugs_crude.msgpack.tar.gz"));
    assert.deepEqual(fs.readFileSync(downloaded.path), archive);
    const direct = await readGeomStream(inChunks(bytes, bytes.length), "direct", { maxMolecules: 10, maxConformers: 3 });
    const read = await readGeomMsgpack(downloaded.path, { maxMolecules: 10, maxConformers: 3 });
    assert.deepEqual(conformationCodec.encode(read.set), conformationCodec.encode(direct.set));
    const again = await geomFile("drugs", { env: { COLLAPSE_GEOM_URL_DRUGS: url }, cacheDir, progress: false });
    assert.deepEqual([again.source, again.path], ["cache", downloaded.path]);
    assert.equal(requests.length, 1, "the second call does not download");
    // a server without the file: a DataError naming the URL and how to get GEOM
    await assert.rejects(
      geomFile("drugs", { env: { COLLAPSE_GEOM_URL_DRUGS: url.replace("drugs_crude", "missing") }, cacheDir: tempDir("geomdl404"), progress: false }),
      (e: unknown) => e instanceof DataError && e.message.includes("missing.msgpack") && /COLLAPSE_GEOM_DIR/.test(e.message),
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test("molecule data specs", () => {
  assert.deepEqual(parseMoleculeDataSpec("embedded"), { kind: "embedded" });
  assert.deepEqual(parseMoleculeDataSpec("geom-drugs"), { kind: "geom", dataset: "drugs" });
  assert.deepEqual(parseMoleculeDataSpec("geom-qm9"), { kind: "geom", dataset: "qm9" });
  assert.deepEqual(parseMoleculeDataSpec("msgpack:/x/y.msgpack"), { kind: "msgpack", path: "/x/y.msgpack" });
  assert.equal(configErrorField(() => parseMoleculeDataSpec("msgpack:")), "data");
  assert.equal(configErrorField(() => parseMoleculeDataSpec("drugs")), "data");
});

test("bond inference: C-C single, C=O double-ish, far atoms unbonded", () => {
  const r = inferBonds(Uint8Array.from([6, 6, 8, 6]), [0, 0, 0, 1.53, 0, 0, 2.2, 1.05, 0, 9, 9, 9]);
  assert.deepEqual(Array.from(r.bonds), [0, 1, 1, 2]);
  assert.deepEqual(Array.from(r.bondOrders), [1, 2]);
});

// ---------------------------------------------------------------------------------------------------
// Types and codec

function smallSet(): ConformationSet {
  return {
    molecules: [
      { smiles: "CCO", atomicNumbers: Uint8Array.from([6, 6, 8]), bonds: Int32Array.from([0, 1, 1, 2]), bondOrders: Uint8Array.from([1, 1]) },
      { smiles: "C=O", atomicNumbers: Uint8Array.from([6, 8]), bonds: Int32Array.from([0, 1]), bondOrders: Uint8Array.from([2]) },
    ],
    conformers: [
      { molecule: 0, xyz: Float32Array.from([0, 0, 0, 1.5, 0, 0, 2, 1.4, 0]) },
      { molecule: 1, xyz: Float32Array.from([0, 0, 0, 1.2, 0, 0]) },
      { molecule: 0, xyz: Float32Array.from([0, 0, 0, 1.5, 0, 0, 2, -1.4, 0.3]) },
    ],
  };
}

test("conformation codec round-trips and rejects corrupt bytes naming the source", () => {
  const set = smallSet();
  const back = conformationCodec.decode(conformationCodec.encode(set));
  assert.deepEqual(back.molecules.map((m) => m.smiles), ["CCO", "C=O"]);
  assert.deepEqual(back.conformers.map((c) => Array.from(c.xyz)), set.conformers.map((c) => Array.from(c.xyz)));
  assert.deepEqual(Array.from(back.molecules[1].bondOrders), [2]);
  const bytes = conformationCodec.encode(set);
  assert.throws(() => decodeConformations(bytes.subarray(0, bytes.length - 4), "/runs/x.bin"), (e: unknown) => e instanceof DataError && e.message.includes("/runs/x.bin"));
  assert.throws(() => decodeConformations(Buffer.from("nonsense bytes"), "/runs/y.bin"), (e: unknown) => e instanceof DataError && /magic/.test(e.message));
});

test("select keeps only the molecules used; merge shares molecules across sets", () => {
  const set = smallSet();
  const sel = selectConformers(set, [2, 0]);
  assert.equal(sel.molecules.length, 1);
  assert.equal(sel.conformers.length, 2);
  const merged = mergeConformationSets([set, conformationCodec.decode(conformationCodec.encode(sel))]);
  assert.equal(merged.molecules.length, 2);
  assert.equal(merged.conformers.length, 5);
  assert.deepEqual(merged.conformers.map((c) => c.molecule), [0, 1, 0, 0, 0]);
});

// ---------------------------------------------------------------------------------------------------
// RMSD, COV, MAT

function rotate(xyz: Float64Array | number[], rng: Rng, shift: [number, number, number]): Float64Array {
  // a random rotation from a random unit quaternion
  const q = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
  const n = Math.hypot(...q);
  const [w, x, y, z] = q.map((v) => v / n);
  const r = [
    [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
    [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
    [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
  ];
  const out = new Float64Array(xyz.length);
  for (let i = 0; i < xyz.length; i += 3) for (let k = 0; k < 3; k++) out[i + k] = r[k][0] * xyz[i] + r[k][1] * xyz[i + 1] + r[k][2] * xyz[i + 2] + shift[k];
  return out;
}

test("aligned RMSD of a rotated and translated copy is ~0; a mirror image is not", () => {
  const rng = Rng.fromSeed(3);
  const a = Array.from({ length: 3 * 12 }, () => 3 * rng.normal());
  for (let k = 0; k < 5; k++) assert.ok(alignedRmsd(a, rotate(a, rng, [5 * k, -3, 2])) < 1e-9);
  const mirror = a.map((v, i) => (i % 3 === 0 ? -v : v));
  assert.ok(alignedRmsd(a, mirror) > 0.1, "a reflection is not a rotation");
  // Kabsch recovers the rotation: R·p ≈ q
  const p = centered(a);
  const q = centered(rotate(a, rng, [0, 0, 0]));
  const r = kabschRotation(p, q);
  for (let i = 0; i < p.length; i += 3) for (let k = 0; k < 3; k++) assert.ok(Math.abs(r[k][0] * p[i] + r[k][1] * p[i + 1] + r[k][2] * p[i + 2] - q[i + k]) < 1e-9);
});

test("aligned RMSD known values", () => {
  // two atoms 2 Å apart vs 4 Å apart: after centring, each atom is 1 Å off → RMSD 1
  assert.ok(Math.abs(alignedRmsd([0, 0, 0, 2, 0, 0], [0, 0, 0, 0, 4, 0]) - 1) < 1e-9);
  // one atom displaced by d in a 4-atom set, no rotation can help along the symmetric axis: square (side 2) vs one corner pushed out
  const sq = [1, 1, 0, -1, 1, 0, -1, -1, 0, 1, -1, 0];
  const scaled = sq.map((v) => 2 * v);
  // uniform scaling by 2 leaves every atom √2 Å off after centring
  assert.ok(Math.abs(alignedRmsd(sq, scaled) - Math.SQRT2) < 1e-9);
});

test("COV-R and MAT-R on hand-made sets", () => {
  const base = [0, 0, 0, 1.5, 0, 0, 1.5, 1.5, 0, 3, 1.5, 0];
  const bent = [0, 0, 0, 1.5, 0, 0, 1.5, 1.5, 0, 1.5, 3, 0];
  const far = base.map((v) => 3 * v);
  const refs = [base, bent];
  // generating exactly the references: full coverage, zero matching error
  const exact = coverageAndMatching(refs, [bent, base], DRUGS_COVERAGE_THRESHOLD);
  assert.equal(exact.coverage, 1);
  assert.ok(exact.matching < 1e-9);
  // generating only `base`: covers base exactly and bent within the threshold?
  const rBent = alignedRmsd(bent, base);
  const one = coverageAndMatching(refs, [base], DRUGS_COVERAGE_THRESHOLD);
  assert.equal(one.coverage, rBent < DRUGS_COVERAGE_THRESHOLD ? 1 : 0.5);
  assert.ok(Math.abs(one.matching - rBent / 2) < 1e-9);
  // a tight threshold: only exact matches count
  assert.equal(coverageAndMatching(refs, [base, far], 0.01).coverage, 0.5);
  assert.ok(coverageAndMatching(refs, [far], 0.5).coverage === 0);
});

test("scripts/real-drug-conformers.js writes GEOM's layout that the GEOM loader reads: heavy atoms, weights summing to 1", async () => {
  const { spawnSync } = await import("node:child_process");
  const file = path.join(tempDir("drugs"), "drugs_crude.msgpack");
  const r = spawnSync(process.execPath, [path.join(__dirname, "..", "..", "scripts", "real-drug-conformers.js"), file, "3", "3"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const raw = decode(fs.readFileSync(file)) as Record<string, { conformers: { boltzmannweight: number; xyz: number[][] }[] }>;
  assert.equal(Object.keys(raw).length, 3, "aspirin, paracetamol, ibuprofen");
  for (const rec of Object.values(raw)) {
    const total = rec.conformers.reduce((s, c) => s + c.boltzmannweight, 0);
    assert.ok(Math.abs(total - 1) < 1e-9, `Boltzmann weights sum to ${total}`);
    assert.ok(rec.conformers[0].xyz.some((a) => a[0] === 1), "hydrogens included, as in GEOM");
  }
  const { set } = await readGeomMsgpack(file, { maxMolecules: 10, maxConformers: 2 });
  assert.deepEqual(set.molecules.map((m) => m.atomicNumbers.length), [13, 11, 15], "heavy atoms of aspirin, paracetamol, ibuprofen");
  assert.equal(set.conformers.length, 6);
});
