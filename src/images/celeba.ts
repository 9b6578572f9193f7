import * as fs from "node:fs";
import * as path from "node:path";
import sharp from "sharp";
import { ConfigError, DataError } from "../errors";
import { packageRoot } from "../environment";
import { Rng } from "../random";
import type { ImageSet } from "./types";

/**
 * Real image data for §3.3: CelebA (the paper's dataset) or any folder of images.
 *
 * CelebA layout (as distributed, "Align&Cropped Images"):
 *   DIR/img_align_celeba/000001.jpg ... 202599.jpg   178×218 aligned faces
 *   DIR/list_eval_partition.txt                        "000001.jpg 0" per line: 0 train, 1 validation, 2 test
 * Each image is cropped to its central square of 140/178 of its width (the usual 140×140 face crop of
 * the 178×218 images) and resized to size×size.
 */

export const CELEBA_ENV_VAR = "COLLAPSE_CELEBA_DIR";
export const CELEBA_SPLITS = ["train", "validation", "test"] as const;
export type CelebaSplit = (typeof CELEBA_SPLITS)[number];
const CELEBA_CROP = 140 / 178;

/** Where CelebA is looked for: an explicit directory, else $COLLAPSE_CELEBA_DIR, else data/celeba in the kit. */
export function celebaDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(explicit ?? (env[CELEBA_ENV_VAR] || path.join(packageRoot(), "data", "celeba")));
}

function celebaMissing(where: string, what: string): DataError {
  return new DataError(
    where,
    `${what}. CelebA is not downloaded automatically (it is distributed through Google Drive): get ` +
      `img_align_celeba.zip and list_eval_partition.txt from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, ` +
      `unzip so that DIR/img_align_celeba/000001.jpg and DIR/list_eval_partition.txt exist, and point ` +
      `${CELEBA_ENV_VAR} at DIR. Offline, use the embedded procedural faces instead (--data embedded).`,
  );
}

/** The CelebA file names of each split, in file order; checks the layout and fails fast with how to fix it. */
export function celebaPartition(dir: string): Record<CelebaSplit, string[]> {
  const imgDir = path.join(dir, "img_align_celeba");
  if (!fs.existsSync(dir)) throw celebaMissing(dir, "CelebA directory not found");
  if (!fs.existsSync(imgDir) || !fs.statSync(imgDir).isDirectory()) throw celebaMissing(imgDir, "CelebA image folder not found");
  const listFile = path.join(dir, "list_eval_partition.txt");
  if (!fs.existsSync(listFile)) throw celebaMissing(listFile, "CelebA partition file not found");
  const out: Record<CelebaSplit, string[]> = { train: [], validation: [], test: [] };
  fs.readFileSync(listFile, "utf8")
    .split(/\r?\n/)
    .forEach((line, i) => {
      if (line.trim() === "") return;
      const m = /^\s*(\S+)\s+([012])\s*$/.exec(line);
      if (!m) throw new DataError(listFile, `line ${i + 1}: expected "FILE.jpg 0|1|2", got ${JSON.stringify(line.slice(0, 80))}`);
      out[CELEBA_SPLITS[Number(m[2])]].push(m[1]);
    });
  return out;
}

export interface LoadImagesOptions {
  /** Side of the square output images. */
  size: number;
  /** Images [offset, offset + limit) of the split (default: all). */
  offset?: number;
  limit?: number;
  /** Decodes running at once (default 4). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * One split of CelebA, center-cropped and resized; with the attributes of `attributes` (default: the
 * classifier's) when list_attr_celeba.txt is present.
 */
export async function loadCelebA(dir: string, split: CelebaSplit, o: LoadImagesOptions & { attributes?: readonly string[] }): Promise<ImageSet> {
  const names = celebaPartition(dir)[split];
  const offset = o.offset ?? 0;
  const chosen = names.slice(offset, o.limit === undefined ? undefined : offset + o.limit);
  const files = chosen.map((n) => path.join(dir, "img_align_celeba", n));
  const attributes = celebaAttributes(dir, files, o.attributes ?? CELEBA_CLASSIFIER_ATTRIBUTES);
  const set = await loadImageFiles(files, { ...o, crop: CELEBA_CROP });
  return attributes ? { ...set, attributes } : set;
}

export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"];

export interface FolderSplit {
  train: string[];
  test: string[];
}

/**
 * The image files of a folder (searched recursively, sorted by path), split into train and test by
 * a seeded shuffle: the same folder and seed always give the same split.
 */
export function folderSplit(dir: string, testFraction: number, seed: number): FolderSplit {
  const root = path.resolve(dir);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    throw new DataError(root, "image folder not found (folder:PATH needs a directory of image files; --data embedded needs none)");
  }
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase())) files.push(p);
    }
  };
  walk(root);
  files.sort();
  if (files.length < 2) throw new DataError(root, `holds ${files.length} image files (${IMAGE_EXTENSIONS.join(", ")}); need at least 2`);
  const order = Rng.derive(seed, "folder-split").permutation(files.length);
  const nTest = Math.min(files.length - 1, Math.max(1, Math.round(testFraction * files.length)));
  return {
    test: Array.from(order.subarray(0, nTest), (i) => files[i]),
    train: Array.from(order.subarray(nTest), (i) => files[i]),
  };
}

/**
 * Decodes image files into an ImageSet: the central square of side crop·min(width, height), resized to
 * size×size (area-averaging for downsampling), RGB. A file that does not decode is a DataError naming it.
 */
export async function loadImageFiles(files: readonly string[], o: LoadImagesOptions & { crop?: number }): Promise<ImageSet> {
  const size = o.size;
  if (!Number.isSafeInteger(size) || size < 1) throw new ConfigError("size", `expected a positive integer, got ${size}`);
  const per = size * size * 3;
  const images = new Float32Array(files.length * per);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      const pixels = await loadImageFile(files[i], size, o.crop ?? 1);
      for (let k = 0; k < per; k++) images[i * per + k] = pixels[k] / 255;
      o.onProgress?.(++done, files.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 4, files.length)) }, worker));
  return { images, n: files.length, height: size, width: size };
}

/** One image file as size×size×3 bytes (see loadImageFiles). */
export async function loadImageFile(file: string, size: number, crop = 1): Promise<Uint8Array> {
  try {
    const image = sharp(file, { failOn: "error" });
    const meta = await image.metadata();
    if (!meta.width || !meta.height) throw new Error("no image dimensions");
    const side = Math.max(1, Math.min(meta.width, meta.height, Math.round(crop * Math.min(meta.width, meta.height))));
    const left = Math.floor((meta.width - side) / 2);
    const top = Math.floor((meta.height - side) / 2);
    const { data, info } = await image
      .extract({ left, top, width: side, height: side })
      .resize(size, size, { kernel: side >= size ? "mitchell" : "cubic" })
      .removeAlpha()
      .toColourspace("srgb")
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== size * size * 3) throw new Error(`decoded to ${info.width}×${info.height}×${info.channels}`);
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(file, `cannot read this image: ${(e as Error).message}`);
  }
}

/**
 * CelebA's 40 binary attributes (DIR/list_attr_celeba.txt: a count line, a header of names, then
 * "000001.jpg -1 1 ..." per image) for the given files, as 0/1 labels; null if the file is absent.
 */
export function celebaAttributes(dir: string, files: readonly string[], names?: readonly string[]): Record<string, Uint8Array> | null {
  const file = path.join(dir, "list_attr_celeba.txt");
  if (!fs.existsSync(file)) return null;
  const lines = fs.readFileSync(file, "utf8").split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length < 2) throw new DataError(file, "expected a count line and a header line of attribute names");
  const header = lines[1].trim().split(/\s+/);
  const wanted = names ?? header;
  const columns = wanted.map((n) => {
    const c = header.indexOf(n);
    if (c < 0) throw new DataError(file, `has no attribute ${n} (it has ${header.join(", ")})`);
    return c;
  });
  const byFile = new Map<string, string[]>();
  for (let i = 2; i < lines.length; i++) {
    const parts = lines[i].trim().split(/\s+/);
    byFile.set(parts[0], parts.slice(1));
  }
  const out: Record<string, Uint8Array> = Object.fromEntries(wanted.map((n) => [n, new Uint8Array(files.length)]));
  files.forEach((f, i) => {
    const values = byFile.get(path.basename(f));
    if (!values) throw new DataError(file, `has no line for ${path.basename(f)}`);
    wanted.forEach((n, a) => (out[n][i] = values[columns[a]] === "1" ? 1 : 0));
  });
  return out;
}

/** The CelebA attributes the kit's classifier is trained on (the details and axes §3.3 discusses). */
export const CELEBA_CLASSIFIER_ATTRIBUTES = ["Eyeglasses", "Wearing_Hat", "Male", "Smiling", "Blond_Hair", "Black_Hair", "Bald", "Young"];
