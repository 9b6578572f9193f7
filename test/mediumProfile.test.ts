import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { encode } from "@msgpack/msgpack";
import sharp from "sharp";
import { LM, MOLECULES, VAE, runSequence } from "../src/index";
import type { IterationRecord } from "../src/collapse/loop";
import { CELEBA_ENV_VAR } from "../src/images/celeba";
import { lmConfig } from "../src/lm/configs";
import { lmFigure3Models } from "../src/experiments/paperFigures";
import { defaultSeeds } from "../src/experiments/seeds";
import { GEODIFF_DRUGS_DIFFUSION } from "../src/molecules/diffusion";
import { Rng } from "../src/random";
import { embeddedCorpus, formatDocuments, TINYSTORIES_FILES } from "../src/text";
import { freshStore, tempDir } from "./helpers";

// The medium profile needs the real datasets (TinyStories, GEOM-Drugs, CelebA), which cannot be
// downloaded here. Each neural section's medium config runs its first steps on a small fixture in
// the real format, found where the real data would be ($COLLAPSE_TINYSTORIES_DIR, $COLLAPSE_GEOM_DIR,
// $COLLAPSE_CELEBA_DIR), through the real loader and the normal runner. Only what the fixture cannot
// provide is cut (documents, molecules, images), and the work: one optimizer step, one iteration, and
// the generation and scoring sizes that scale a step's cost (tokens sampled, images scored).

const ENV = ["COLLAPSE_TINYSTORIES_DIR", "COLLAPSE_GEOM_DIR", CELEBA_ENV_VAR] as const;
const saved: Record<string, string | undefined> = {};
before(() => {
  for (const k of ENV) saved[k] = process.env[k];
});
after(() => {
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

/** The last point of a fit's learning curve: the step the fit stopped at. */
function lastStep(record: IterationRecord): number | undefined {
  return record.curve?.[record.curve.length - 1]?.step;
}

test("the medium configs: the real datasets, the paper's smallest models, sizes between quick and paper", () => {
  LM.check(structuredClone(LM.profiles.medium));
  MOLECULES.check(structuredClone(MOLECULES.profiles.medium));
  VAE.check(structuredClone(VAE.profiles.medium));
  const [lm, molecules, vae] = [LM.profiles, MOLECULES.profiles, VAE.profiles];
  assert.deepEqual([lm.medium.data, molecules.medium.data, vae.medium.data], ["tinystories", "geom-drugs", "celeba"]);
  assert.deepEqual(lmFigure3Models("medium"), ["gpt2-9m", "llama2-12m"]);
  assert.deepEqual(molecules.medium.diffusion, GEODIFF_DRUGS_DIFFUSION);
  assert.deepEqual(vae.medium.model, vae.paper.model);
  assert.equal(vae.medium.samplesPerIteration, vae.medium.trainImages);
  const between = (name: string, size: (p: "quick" | "medium" | "paper") => number) => {
    assert.ok(size("quick") < size("medium") && size("medium") < size("paper"), `${name}: ${size("quick")} < ${size("medium")} < ${size("paper")}`);
  };
  between("lm documents", (p) => (p === "quick" ? 0 : lm[p].trainDocuments!));
  between("molecules", (p) => molecules[p].trainMolecules);
  between("images", (p) => vae[p].trainImages);
  for (const p of [lm, molecules, vae]) assert.ok(p.medium.iterations <= p.paper.iterations);
  for (const e of ["lm", "molecules", "vae", "augmentation"] as const) assert.equal(defaultSeeds("medium", e), 1, e);
});

test("medium's first steps: §3.1 gpt2-9m on a TinyStories-format fixture", async (t) => {
  // TinyStories' two files (documents separated by <|endoftext|> lines), from the embedded story generator.
  const dir = tempDir("medium-tinystories");
  const corpus = embeddedCorpus({ documents: 80, seed: 5, validFraction: 0.25 });
  fs.writeFileSync(path.join(dir, TINYSTORIES_FILES.train), formatDocuments(corpus.train));
  fs.writeFileSync(path.join(dir, TINYSTORIES_FILES.valid), formatDocuments(corpus.valid));
  process.env.COLLAPSE_TINYSTORIES_DIR = dir;
  const medium = structuredClone(LM.profiles.medium);
  const config = {
    ...medium,
    trainDocuments: 24,
    validDocuments: 12,
    iterations: 1,
    // The medium batch's shape (512-token sequences in micro-batches of 8) at one micro-batch, one step.
    train: { ...medium.train, batchSize: 8, maxSteps: 1 },
    sampling: { ...medium.sampling, maxTokens: 32 },
    textMetricDocuments: 4,
  };
  const started = performance.now();
  const r = await runSequence(LM, config, { store: freshStore("medium-lm") });
  t.diagnostic(`§3.1: ${((performance.now() - started) / 1000).toFixed(1)} s on ${r.backend?.backend}`);
  const shape = lmConfig("gpt2-9m");
  assert.deepEqual([r.model.name, r.model.dModel, r.model.nLayers, r.model.nHeads, r.model.dHidden, r.model.contextLength], [shape.name, shape.dModel, shape.nLayers, shape.nHeads, shape.dHidden, shape.contextLength]);
  assert.equal(r.realData.trainDocuments, 24);
  assert.equal(r.records.length, 1);
  assert.equal(lastStep(r.records[0]), 1, "one optimizer step");
  for (const k of ["testCrossEntropy", "validWordRate", "distinct2"]) assert.ok(Number.isFinite(r.records[0].metrics[k]), k);
  assert.ok(r.records[0].metrics.testCrossEntropy < Math.log(r.model.vocabSize) + 1, "cross-entropy near a fresh model's");
  assert.ok(fs.existsSync(path.join(r.runDir!, "artifacts", "synthetic-1.bin")), "model 1 sampled its synthetic set");
});

/** A GEOM "crude" msgpack file (concatenated maps: SMILES → conformers of [Z, x, y, z] rows with hydrogens). */
function geomDrugsFixture(file: string, molecules: number, conformers: number): void {
  const rng = Rng.fromSeed(11);
  const maps: Uint8Array[] = [];
  for (let part = 0; part < 2; part++) {
    const entries: Record<string, unknown> = {};
    for (let m = part; m < molecules; m += 2) {
      const heavy = 12 + (m % 9);
      const zs = Array.from({ length: heavy }, (_, i) => (i % 5 === 4 ? 8 : i % 7 === 6 ? 7 : 6));
      const confs = Array.from({ length: conformers }, (_, k) => {
        const rows: number[][] = [];
        let p = [0, 0, 0];
        let dir = [1, 0, 0];
        for (let i = 0; i < heavy; i++) {
          rows.push([zs[i], ...p]);
          rows.push([1, p[0] + 0.6, p[1] + 0.8, p[2] - 0.3]); // a hydrogen, dropped by the reader
          const turn = [dir[0] + 0.7 * rng.normal(), dir[1] + 0.7 * rng.normal(), dir[2] + 0.7 * rng.normal()];
          const n = Math.hypot(...turn);
          dir = turn.map((v) => v / n);
          p = p.map((v, j) => v + 1.5 * dir[j]);
        }
        return { xyz: rows, boltzmannweight: 1 / (k + 1), totalenergy: -50 - k };
      });
      entries[`C${"C".repeat(m)}N`] = { conformers: confs, uniqueconfs: conformers, charge: 0 };
    }
    maps.push(encode(entries));
  }
  fs.writeFileSync(file, Buffer.concat(maps));
}

test("medium's first steps: §3.2 the paper's EGNN on a GEOM-Drugs-format fixture", async (t) => {
  const dir = tempDir("medium-geom");
  const medium = structuredClone(MOLECULES.profiles.medium);
  geomDrugsFixture(path.join(dir, "drugs_crude.msgpack"), 10, medium.conformersPerMolecule);
  process.env.COLLAPSE_GEOM_DIR = dir;
  const config = {
    ...medium,
    trainMolecules: 6,
    testMolecules: 2,
    iterations: 1,
    train: { ...medium.train, epochs: 0, steps: 1 }, // one optimizer step
    evaluation: { ...medium.evaluation!, coverageMolecules: 2 },
  };
  const started = performance.now();
  const r = await runSequence(MOLECULES, config, { store: freshStore("medium-molecules") });
  t.diagnostic(`§3.2: ${((performance.now() - started) / 1000).toFixed(1)} s on ${r.backend?.backend}, ${r.parameters.toLocaleString("en-US")} parameters`);
  assert.deepEqual(r.model, { ...r.model, ...medium.model });
  assert.deepEqual(r.diffusion, GEODIFF_DRUGS_DIFFUSION);
  assert.equal(r.records.length, 1);
  assert.equal(r.records[0].metrics.trainSteps, 1);
  assert.equal(r.records[0].trainSize, 6 * medium.conformersPerMolecule);
  for (const k of ["testLoss", "coverage", "matching"]) assert.ok(Number.isFinite(r.records[0].metrics[k]), k);
  assert.ok(fs.existsSync(path.join(r.runDir!, "artifacts", "synthetic-1.bin")), "model 1 sampled its synthetic set");
});

// CelebA's 40 attributes, in the order of list_attr_celeba.txt's header.
const CELEBA_ATTRIBUTES =
  "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young".split(" ");

/** CelebA's layout: img_align_celeba/NNNNNN.jpg (178×218), list_eval_partition.txt, list_attr_celeba.txt. */
async function celebaFixture(dir: string, counts: { train: number; validation: number; test: number }): Promise<void> {
  fs.mkdirSync(path.join(dir, "img_align_celeba"));
  const rng = Rng.fromSeed(9);
  const partition: string[] = [];
  const attributes: string[] = [];
  let i = 0;
  for (const [split, n] of [[0, counts.train], [1, counts.validation], [2, counts.test]] as const) {
    for (let k = 0; k < n; k++, i++) {
      const name = `${String(i + 1).padStart(6, "0")}.jpg`;
      // A face-sized ellipse of one skin tone on a background, with noise.
      const [w, h] = [178, 218];
      const raw = Buffer.alloc(w * h * 3);
      const skin = [150 + rng.int(100), 100 + rng.int(80), 80 + rng.int(60)];
      const back = [rng.int(256), rng.int(256), rng.int(256)];
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const inFace = ((x - 89) / 50) ** 2 + ((y - 120) / 65) ** 2 < 1;
          const c = inFace ? skin : back;
          for (let ch = 0; ch < 3; ch++) raw[(y * w + x) * 3 + ch] = Math.max(0, Math.min(255, c[ch] + rng.int(21) - 10));
        }
      }
      await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toFile(path.join(dir, "img_align_celeba", name));
      partition.push(`${name} ${split}`);
      attributes.push(`${name} ${CELEBA_ATTRIBUTES.map(() => (rng.int(2) ? " 1" : "-1")).join(" ")}`);
    }
  }
  fs.writeFileSync(path.join(dir, "list_eval_partition.txt"), partition.join("\n") + "\n");
  fs.writeFileSync(path.join(dir, "list_attr_celeba.txt"), `${i}\n${CELEBA_ATTRIBUTES.join(" ")} \n${attributes.join("\n")}\n`);
}

test("medium's first steps: §3.3 the paper's VAE on a CelebA-layout fixture at 64×64", async (t) => {
  const dir = tempDir("medium-celeba");
  await celebaFixture(dir, { train: 16, validation: 8, test: 8 });
  process.env[CELEBA_ENV_VAR] = dir;
  const medium = structuredClone(VAE.profiles.medium);
  // What `collapse vae --profile medium` does with real images and no size flag: the profile's sizes
  // as far as the data holds them.
  const fitted = VAE.prepare!(medium, {}, {});
  assert.deepEqual([fitted.trainImages, fitted.testImages, fitted.samplesPerIteration], [16, 8, 16]);
  const config = {
    ...fitted,
    iterations: 1,
    train: { ...medium.train, maxSteps: 1 }, // one optimizer step (the 16 images are less than a batch)
    metricSamples: 8,
    classifierImages: 8,
    classifierEpochs: 1,
  };
  const started = performance.now();
  const r = await runSequence(VAE, config, { store: freshStore("medium-vae") });
  t.diagnostic(`§3.3: ${((performance.now() - started) / 1000).toFixed(1)} s on ${r.backend?.backend}, ${r.parameters.toLocaleString("en-US")} parameters`);
  assert.deepEqual(r.model, { ...r.model, ...medium.model, imageSize: 64 });
  assert.equal(r.records.length, 1);
  assert.equal(r.records[0].trainSize, 16);
  for (const k of ["testNegElbo", "frechetDistance", "precision", "recall"]) assert.ok(Number.isFinite(r.records[0].metrics[k]), k);
  assert.ok(Object.keys(r.classifierAccuracy).length > 0, "the attribute classifier trained on CelebA's labels");
  assert.ok(fs.existsSync(path.join(r.runDir!, "artifacts", "synthetic-1.bin")), "model 1 sampled its synthetic set");
});
