import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import sharp from "sharp";
import { DataError } from "../src/errors";
import { celebaPartition, folderSplit, loadCelebA, loadImageFiles } from "../src/images/celeba";
import { FACE_ATTRIBUTES, generateFaces } from "../src/images/faces";
import { concatImages, imageAt, imageCodec, selectImages } from "../src/images/types";
import { configErrorField, tempDir } from "./helpers";

// ---------------------------------------------------------------------------------------------------
// embedded faces

test("faces are deterministic per seed, split and index, and differ from each other", () => {
  const a = generateFaces({ size: 32, count: 6, seed: 7, split: "train" });
  const b = generateFaces({ size: 32, count: 6, seed: 7, split: "train" });
  assert.deepEqual(a.images, b.images);
  assert.deepEqual(a.attributes, b.attributes);
  const later = generateFaces({ size: 32, count: 2, seed: 7, split: "train", start: 4 });
  assert.deepEqual(later.images, a.images.subarray(4 * 32 * 32 * 3), "face i does not depend on how many are drawn");
  const other = generateFaces({ size: 32, count: 6, seed: 8, split: "train" });
  assert.notDeepEqual(other.images, a.images);
  const test = generateFaces({ size: 32, count: 6, seed: 7, split: "test" });
  assert.notDeepEqual(test.images, a.images);
  for (let i = 0; i < 6; i++) {
    for (let j = 0; j < i; j++) assert.notDeepEqual(imageAt(a, i), imageAt(a, j), `faces ${i} and ${j}`);
  }
  assert.ok(a.images.every((v) => v >= 0 && v <= 1 && Math.fround(Math.round(v * 255) / 255) === v), "8-bit values in [0, 1]");
  assert.deepEqual(Object.keys(a.attributes!), [...FACE_ATTRIBUTES]);
});

test("attribute frequencies match the configured ones within binomial bounds", () => {
  const n = 3000;
  const set = generateFaces({ size: 8, count: n, seed: 1, split: "train", faces: { glasses: 0.1, hat: 0.05, feminine: 0.3, hairColors: { black: 1, brown: 1, blond: 2, red: 0, gray: 0 } } });
  const want: Record<string, number> = { glasses: 0.1, hat: 0.05, feminine: 0.3, smiling: 0.5, hair_black: 0.25, hair_brown: 0.25, hair_blond: 0.5, hair_red: 0, hair_gray: 0 };
  for (const [name, p] of Object.entries(want)) {
    const freq = set.attributes![name].reduce((s, v) => s + v, 0) / n;
    const bound = 4 * Math.sqrt((p * (1 - p)) / n) + 1e-9; // 4 standard errors
    assert.ok(Math.abs(freq - p) <= bound, `${name}: ${freq} vs ${p} ± ${bound.toFixed(4)}`);
  }
  const none = generateFaces({ size: 8, count: 200, seed: 1, split: "x", faces: { glasses: 0, hat: 1 } });
  assert.equal(none.attributes!.glasses.reduce((s, v) => s + v, 0), 0);
  assert.equal(none.attributes!.hat.reduce((s, v) => s + v, 0), 200);
  assert.equal(configErrorField(() => generateFaces({ size: 8, count: 1, seed: 0, split: "x", faces: { glasses: 1.5 } })), "faces.glasses");
  assert.equal(configErrorField(() => generateFaces({ size: 8, count: 1, seed: 0, split: "x", faces: { beard: 0.1 } as never })), "faces.beard");
});

test("glasses and hats change the pixels where they are drawn", () => {
  const plain = generateFaces({ size: 32, count: 1, seed: 3, split: "a", faces: { glasses: 0, hat: 0 } });
  const dressed = generateFaces({ size: 32, count: 1, seed: 3, split: "a", faces: { glasses: 1, hat: 1 } });
  let changed = 0;
  for (let i = 0; i < plain.images.length; i++) if (plain.images[i] !== dressed.images[i]) changed++;
  assert.ok(changed > 100, `${changed} values changed`);
});

test("the image codec round-trips 8-bit and float images with labels; select and concat keep labels", () => {
  const set = generateFaces({ size: 8, count: 5, seed: 2, split: "train" });
  const bytes = imageCodec.encode(set);
  assert.ok(bytes.length < set.images.length * 2, "8-bit images are stored as bytes");
  assert.deepEqual(imageCodec.decode(bytes), set);
  const floats = { images: Float32Array.from({ length: 2 * 4 * 4 * 3 }, (_, i) => i / 1000 + 1e-4), n: 2, height: 4, width: 4 };
  assert.deepEqual(imageCodec.decode(imageCodec.encode(floats)), floats);
  assert.throws(() => imageCodec.decode(bytes.subarray(0, bytes.length - 1)), DataError);
  const picked = selectImages(set, [4, 1]);
  assert.deepEqual(imageAt(picked, 0), imageAt(set, 4));
  assert.equal(picked.attributes!.hat[1], set.attributes!.hat[1]);
  const both = concatImages([set, picked]);
  assert.equal(both.n, 7);
  assert.deepEqual(imageAt(both, 6), imageAt(set, 1));
  assert.equal(both.attributes!.glasses.length, 7);
  assert.equal(concatImages([set, { ...picked, attributes: undefined }]).attributes, undefined);
});

// ---------------------------------------------------------------------------------------------------
// CelebA and image folders

const W = 178;
const H = 218;

/**
 * A 178×218 JPEG: colour `inner` on the central 140×140 face crop and a margin of 6 pixels around it
 * (JPEG blurs colour edges), `outer` elsewhere.
 */
async function celebaLikeJpeg(file: string, inner: number[], outer: number[]): Promise<void> {
  const raw = Buffer.alloc(W * H * 3);
  const left = (W - 140) / 2 - 6;
  const top = (H - 140) / 2 - 6;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const c = x >= left && x < left + 152 && y >= top && y < top + 152 ? inner : outer;
      raw.set(c, (y * W + x) * 3);
    }
  }
  await sharp(raw, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 95 }).toFile(file);
}

const COLORS = [
  [200, 30, 30],
  [30, 200, 30],
  [30, 30, 200],
  [220, 220, 40],
  [40, 200, 200],
  [120, 120, 120],
];

async function celebaFixture(): Promise<string> {
  const dir = tempDir("celeba");
  fs.mkdirSync(path.join(dir, "img_align_celeba"));
  const lines: string[] = [];
  for (let i = 0; i < COLORS.length; i++) {
    const name = `${String(i + 1).padStart(6, "0")}.jpg`;
    await celebaLikeJpeg(path.join(dir, "img_align_celeba", name), COLORS[i], [0, 0, 0]);
    lines.push(`${name} ${i < 3 ? 0 : i < 5 ? 1 : 2}`);
  }
  fs.writeFileSync(path.join(dir, "list_eval_partition.txt"), lines.join("\n") + "\n");
  return dir;
}

test("CelebA: the partition file splits the images; the face crop drops the border and resizes", async () => {
  const dir = await celebaFixture();
  assert.deepEqual(celebaPartition(dir), { train: ["000001.jpg", "000002.jpg", "000003.jpg"], validation: ["000004.jpg", "000005.jpg"], test: ["000006.jpg"] });
  const train = await loadCelebA(dir, "train", { size: 16 });
  assert.equal(train.n, 3);
  assert.equal(train.height, 16);
  assert.equal(train.attributes, undefined, "no list_attr_celeba.txt, no labels");
  for (let i = 0; i < 3; i++) {
    const img = imageAt(train, i);
    for (let p = 0; p < 16 * 16; p++) {
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(img[p * 3 + c] * 255 - COLORS[i][c]) < 12, `image ${i} pixel ${p} channel ${c}: ${img[p * 3 + c] * 255} vs ${COLORS[i][c]} (the black border must be cropped away)`);
    }
  }
  const second = await loadCelebA(dir, "train", { size: 8, offset: 1, limit: 1 });
  assert.equal(second.n, 1);
  assert.ok(Math.abs(second.images[1] * 255 - 200) < 12, "offset 1 is the green image");
  // A whole-image load keeps the black border: the corners are dark.
  const whole = await loadImageFiles([path.join(dir, "img_align_celeba", "000001.jpg")], { size: 32 });
  assert.ok(whole.images[0] < 0.1, `corner ${whole.images[0]}`);
});

test("CelebA: missing folder, missing partition file and a corrupt JPEG are DataErrors naming the path", async () => {
  const missing = path.join(tempDir("nocelebA"), "celeba");
  assert.throws(
    () => celebaPartition(missing),
    (e: unknown) => e instanceof DataError && e.path === missing && /COLLAPSE_CELEBA_DIR/.test(e.message) && /--data embedded/.test(e.message) && /Google Drive/.test(e.message),
  );
  const dir = await celebaFixture();
  fs.renameSync(path.join(dir, "list_eval_partition.txt"), path.join(dir, "partition.bak"));
  assert.throws(() => celebaPartition(dir), (e: unknown) => e instanceof DataError && e.path === path.join(dir, "list_eval_partition.txt"));
  fs.renameSync(path.join(dir, "partition.bak"), path.join(dir, "list_eval_partition.txt"));
  const corrupt = path.join(dir, "img_align_celeba", "000002.jpg");
  fs.writeFileSync(corrupt, Buffer.concat([fs.readFileSync(corrupt).subarray(0, 200), Buffer.alloc(100, 7)]));
  await assert.rejects(loadCelebA(dir, "train", { size: 8 }), (e: unknown) => e instanceof DataError && e.path === corrupt);
  fs.appendFileSync(path.join(dir, "list_eval_partition.txt"), "000007.jpg 5\n");
  assert.throws(() => celebaPartition(dir), (e: unknown) => e instanceof DataError && /line 7/.test(e.message));
});

test("folder:PATH: a seeded split of every image under the folder", async () => {
  const dir = tempDir("folder");
  fs.mkdirSync(path.join(dir, "sub"));
  for (let i = 0; i < 10; i++) {
    const file = path.join(dir, i % 2 ? "sub" : "", `img${i}.png`);
    await sharp(Buffer.alloc(20 * 10 * 3, 25 * i), { raw: { width: 20, height: 10, channels: 3 } }).png().toFile(file);
  }
  fs.writeFileSync(path.join(dir, "notes.txt"), "not an image");
  const a = folderSplit(dir, 0.2, 1);
  assert.equal(a.test.length, 2);
  assert.equal(a.train.length, 8);
  assert.deepEqual(folderSplit(dir, 0.2, 1), a);
  assert.notDeepEqual(folderSplit(dir, 0.2, 2).test, a.test);
  const set = await loadImageFiles(a.test, { size: 4 });
  assert.equal(set.n, 2);
  const value = Number(/img(\d)/.exec(a.test[0])![1]) * 25;
  assert.ok(Math.abs(set.images[0] * 255 - value) <= 1, "a uniform image stays uniform through the centre crop and resize");
  assert.throws(() => folderSplit(path.join(dir, "nope"), 0.1, 0), DataError);
});
