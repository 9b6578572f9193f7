#!/usr/bin/env node
"use strict";
// Real drug molecules for `collapse molecules --data msgpack:PATH`: conformers of known small-molecule
// drugs (the list below, written for this kit from their structures), generated with openchemlib
// (the kit's dependency), minimised with MMFF94s, weighted by Boltzmann factors of their energies,
// and written in GEOM's crude msgpack layout ({smiles: {conformers: [{xyz: [[Z, x, y, z], ...],
// boltzmannweight, totalenergy}], uniqueconfs, charge}}, hydrogens included) so that they are read
// through the kit's GEOM loader. Nothing here is GEOM's data; nothing is committed as data.
//
// Usage: node scripts/real-drug-conformers.js [OUT_FILE] [CONFORMERS] [LIMIT]
//   (default data/real/drugs_crude.msgpack, 10 conformers generated per molecule, every drug listed;
//   ~5 minutes on 2 cores)

const fs = require("node:fs");
const path = require("node:path");
const OCL = require("openchemlib");
const { encode } = require("@msgpack/msgpack");

// Name, SMILES. Small molecules (mostly ≤ 22 heavy atoms, the quick profile's limit).
const DRUGS = [
  ["aspirin", "CC(=O)Oc1ccccc1C(=O)O"],
  ["paracetamol", "CC(=O)Nc1ccc(O)cc1"],
  ["ibuprofen", "CC(C)Cc1ccc(cc1)C(C)C(=O)O"],
  ["naproxen", "COc1ccc2cc(ccc2c1)C(C)C(=O)O"],
  ["caffeine", "Cn1cnc2c1c(=O)n(C)c(=O)n2C"],
  ["theophylline", "Cn1c2nc[nH]c2c(=O)n(C)c1=O"],
  ["nicotine", "CN1CCCC1c1cccnc1"],
  ["salbutamol", "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1"],
  ["propranolol", "CC(C)NCC(O)COc1cccc2ccccc12"],
  ["atenolol", "CC(C)NCC(O)COc1ccc(CC(N)=O)cc1"],
  ["metoprolol", "COCCc1ccc(OCC(O)CNC(C)C)cc1"],
  ["diclofenac", "OC(=O)Cc1ccccc1Nc1c(Cl)cccc1Cl"],
  ["ketoprofen", "CC(C(=O)O)c1cccc(c1)C(=O)c1ccccc1"],
  ["indomethacin", "COc1ccc2n(C(=O)c3ccc(Cl)cc3)c(C)c(CC(=O)O)c2c1"],
  ["metformin", "CN(C)C(=N)NC(=N)N"],
  ["phenytoin", "O=C1NC(=O)C(N1)(c1ccccc1)c1ccccc1"],
  ["carbamazepine", "NC(=O)N1c2ccccc2C=Cc2ccccc12"],
  ["diazepam", "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc12"],
  ["lorazepam", "OC1N=C(c2ccccc2Cl)c2cc(Cl)ccc2NC1=O"],
  ["fluoxetine", "CNCCC(Oc1ccc(cc1)C(F)(F)F)c1ccccc1"],
  ["sertraline", "CNC1CCC(c2ccc(Cl)c(Cl)c2)c2ccccc12"],
  ["venlafaxine", "COc1ccc(cc1)C(CN(C)C)C1(O)CCCCC1"],
  ["amitriptyline", "CN(C)CCC=C1c2ccccc2CCc2ccccc12"],
  ["imipramine", "CN(C)CCCN1c2ccccc2CCc2ccccc12"],
  ["haloperidol", "OC1(CCN(CCCC(=O)c2ccc(F)cc2)CC1)c1ccc(Cl)cc1"],
  ["chlorpromazine", "CN(C)CCCN1c2ccccc2Sc2ccc(Cl)cc12"],
  ["lidocaine", "CCN(CC)CC(=O)Nc1c(C)cccc1C"],
  ["procaine", "CCN(CC)CCOC(=O)c1ccc(N)cc1"],
  ["benzocaine", "CCOC(=O)c1ccc(N)cc1"],
  ["bupivacaine", "CCCCN1CCCCC1C(=O)Nc1c(C)cccc1C"],
  ["amphetamine", "CC(N)Cc1ccccc1"],
  ["methylphenidate", "COC(=O)C(C1CCCCN1)c1ccccc1"],
  ["ephedrine", "CNC(C)C(O)c1ccccc1"],
  ["dopamine", "NCCc1ccc(O)c(O)c1"],
  ["levodopa", "NC(Cc1ccc(O)c(O)c1)C(=O)O"],
  ["serotonin", "NCCc1c[nH]c2ccc(O)cc12"],
  ["melatonin", "COc1ccc2[nH]cc(CCNC(C)=O)c2c1"],
  ["adrenaline", "CNCC(O)c1ccc(O)c(O)c1"],
  ["isoniazid", "NNC(=O)c1ccncc1"],
  ["pyrazinamide", "NC(=O)c1cnccn1"],
  ["metronidazole", "Cc1ncc([N+](=O)[O-])n1CCO"],
  ["sulfamethoxazole", "Cc1cc(NS(=O)(=O)c2ccc(N)cc2)no1"],
  ["trimethoprim", "COc1cc(Cc2cnc(N)nc2N)cc(OC)c1OC"],
  ["chloramphenicol", "OCC(NC(=O)C(Cl)Cl)C(O)c1ccc(cc1)[N+](=O)[O-]"],
  ["ciprofloxacin", "OC(=O)c1cn(C2CC2)c2cc(N3CCNCC3)c(F)cc2c1=O"],
  ["fluconazole", "OC(Cn1cncn1)(Cn1cncn1)c1ccc(F)cc1F"],
  ["acyclovir", "Nc1nc2n(COCCO)cnc2c(=O)[nH]1"],
  ["zidovudine", "Cc1cn(C2CC(N=[N+]=[N-])C(CO)O2)c(=O)[nH]c1=O"],
  ["allopurinol", "O=c1[nH]cnc2[nH]ncc12"],
  ["furosemide", "NS(=O)(=O)c1cc(C(=O)O)c(NCc2ccco2)cc1Cl"],
  ["hydrochlorothiazide", "NS(=O)(=O)c1cc2c(cc1Cl)NCNS2(=O)=O"],
  ["captopril", "CC(CS)C(=O)N1CCCC1C(=O)O"],
  ["enalaprilat", "OC(=O)C(CCc1ccccc1)NC(C)C(=O)N1CCCC1C(=O)O"],
  ["nifedipine", "COC(=O)C1=C(C)NC(C)=C(C(=O)OC)C1c1ccccc1[N+](=O)[O-]"],
  ["warfarin", "CC(=O)CC(c1ccccc1)c1c(O)c2ccccc2oc1=O"],
  ["clonidine", "Clc1cccc(Cl)c1NC1=NCCN1"],
  ["hydralazine", "NNc1nncc2ccccc12"],
  ["minoxidil", "Nc1cc(N2CCCCC2)nc(N)[n+]1[O-]"],
  ["omeprazole", "COc1ccc2[nH]c(nc2c1)S(=O)Cc1ncc(C)c(OC)c1C"],
  ["ranitidine", "CNC(=C[N+](=O)[O-])NCCSCc1ccc(CN(C)C)o1"],
  ["cimetidine", "CN=C(NCCSCc1nc[nH]c1C)NC#N"],
  ["metoclopramide", "CCN(CC)CCNC(=O)c1cc(Cl)c(N)cc1OC"],
  ["ondansetron", "Cc1nccn1CC1CCc2c(C1=O)c1ccccc1n2C"],
  ["loratadine", "CCOC(=O)N1CCC(=C2c3ccc(Cl)cc3CCc3cccnc23)CC1"],
  ["diphenhydramine", "CN(C)CCOC(c1ccccc1)c1ccccc1"],
  ["cetirizine", "OC(=O)COCCN1CCN(CC1)C(c1ccccc1)c1ccc(Cl)cc1"],
  ["tramadol", "CN(C)CC1CCCCC1(O)c1cccc(OC)c1"],
  ["pethidine", "CCOC(=O)C1(CCN(C)CC1)c1ccccc1"],
  ["methadone", "CCC(=O)C(CC(C)N(C)C)(c1ccccc1)c1ccccc1"],
  ["codeine", "COc1ccc2CC3N(C)CCC45C(Oc1c24)C(O)C=CC35"],
  ["naloxone", "OC1CCC2(O)C3Cc4ccc(O)c5OC1C2(CCN3CC=C)c45"],
  ["ketamine", "CNC1(CCCCC1=O)c1ccccc1Cl"],
  ["propofol", "CC(C)c1cccc(C(C)C)c1O"],
  ["valproic acid", "CCCC(CCC)C(=O)O"],
  ["gabapentin", "NCC1(CC(=O)O)CCCCC1"],
  ["pregabalin", "CC(C)CC(CN)CC(=O)O"],
  ["levetiracetam", "CCC(N1CCCC1=O)C(N)=O"],
  ["lamotrigine", "Nc1nnc(c(N)n1)c1cccc(Cl)c1Cl"],
  ["topiramate", "CC1(C)OC2COC3(COS(N)(=O)=O)OC(C)(C)OC3C2O1"],
  ["baclofen", "NCC(CC(=O)O)c1ccc(Cl)cc1"],
  ["memantine", "CC12CC3CC(C)(C1)CC(N)(C3)C2"],
  ["amantadine", "NC12CC3CC(CC(C3)C1)C2"],
  ["selegiline", "CC(Cc1ccccc1)N(C)CC#C"],
  ["mexiletine", "CC(N)COc1c(C)cccc1C"],
  ["tolbutamide", "CCCCNC(=O)NS(=O)(=O)c1ccc(C)cc1"],
  ["glipizide", "Cc1cnc(cn1)C(=O)NCCc1ccc(cc1)S(=O)(=O)NC(=O)NC1CCCCC1"],
  ["thalidomide", "O=C1CCC(N2C(=O)c3ccccc3C2=O)C(=O)N1"],
  ["tamoxifen", "CCC(=C(c1ccccc1)c1ccc(OCCN(C)C)cc1)c1ccccc1"],
  ["fluorouracil", "Fc1c[nH]c(=O)[nH]c1=O"],
  ["mercaptopurine", "S=c1nc[nH]c2nc[nH]c12"],
  ["hydroxyurea", "NC(=O)NO"],
  ["dapsone", "Nc1ccc(cc1)S(=O)(=O)c1ccc(N)cc1"],
  ["primaquine", "COc1cc(NC(C)CCCN)c2ncccc2c1"],
  ["chloroquine", "CCN(CC)CCCC(C)Nc1ccnc2cc(Cl)ccc12"],
  ["sildenafil", "CCCc1nn(C)c2c1nc([nH]c2=O)-c1cc(ccc1OCC)S(=O)(=O)N1CCN(C)CC1"],
  ["mirtazapine", "CN1CCN2C(C1)c1ccccc1Cc1cccnc21"],
  ["bupropion", "CC(NC(C)(C)C)C(=O)c1cccc(Cl)c1"],
  ["modafinil", "NC(=O)CS(=O)C(c1ccccc1)c1ccccc1"],
];

const KT = 0.5925; // kcal/mol at 298.15 K, for Boltzmann weights of the MMFF94s energies

function conformersOf(smiles, count, seed) {
  const mol = OCL.Molecule.fromSmiles(smiles);
  mol.addImplicitHydrogens();
  const gen = new OCL.ConformerGenerator(seed);
  if (!gen.initializeConformers(mol, { strategy: OCL.ConformerGenerator.STRATEGY_LIKELY_RANDOM, maxTorsionSets: 1000 })) return [];
  const out = [];
  for (let k = 0; k < count; k++) {
    const c = gen.getNextConformerAsMolecule();
    if (!c) break;
    const ff = new OCL.ForceFieldMMFF94(c, "MMFF94s+", {});
    ff.minimise({ maxIts: 1000 });
    const xyz = [];
    for (let a = 0; a < c.getAllAtoms(); a++) xyz.push([c.getAtomicNo(a), c.getAtomX(a), c.getAtomY(a), c.getAtomZ(a)]);
    out.push({ xyz, totalenergy: ff.getTotalEnergy() });
  }
  const emin = Math.min(...out.map((c) => c.totalenergy));
  const z = out.reduce((s, c) => s + Math.exp(-(c.totalenergy - emin) / KT), 0);
  return out.map((c) => ({ ...c, boltzmannweight: Math.exp(-(c.totalenergy - emin) / KT) / z }));
}

function main() {
  const root = path.dirname(__dirname);
  const file = process.argv[2] ?? path.join(root, "data", "real", "drugs_crude.msgpack");
  const count = Number(process.argv[3] ?? 10);
  const limit = Number(process.argv[4] ?? DRUGS.length);
  OCL.Resources.registerFromNodejs();
  const records = {};
  let kept = 0;
  DRUGS.slice(0, limit).forEach(([name, smiles], i) => {
    let confs;
    try {
      confs = conformersOf(smiles, count, 1000 + i);
    } catch (e) {
      console.error(`skipped ${name} (${smiles}): ${e.message}`);
      return;
    }
    if (confs.length === 0) {
      console.error(`skipped ${name}: no conformer`);
      return;
    }
    records[smiles] = { conformers: confs, uniqueconfs: confs.length, charge: 0, name };
    kept++;
  });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file + ".tmp", encode(records));
  fs.renameSync(file + ".tmp", file);
  console.log(`${file}: ${kept} of ${Math.min(limit, DRUGS.length)} drugs, up to ${count} conformers each`);
}

main();
