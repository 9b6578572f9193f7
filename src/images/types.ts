import type { DataCodec } from "../collapse/modality";
import { DataError } from "../errors";

/**
 * A set of RGB images: `images` holds n × height × width × 3 values in [0, 1], row-major (NHWC, the
 * layout tfjs convolutions take). Images loaded from files, rendered faces and generated samples are
 * all 8-bit images (values k/255), so the run-store codec can keep them as bytes without loss.
 */
export interface ImageSet {
  readonly images: Float32Array;
  readonly n: number;
  readonly height: number;
  readonly width: number;
  /**
   * Per named attribute, one 0/1 label per image (glasses, hat, ...). Absent where the labels are
   * unknown, as for images sampled from a generative model.
   */
  readonly attributes?: Readonly<Record<string, Uint8Array>>;
}

/** Values per image. */
export function pixelsPerImage(set: Pick<ImageSet, "height" | "width">): number {
  return set.height * set.width * 3;
}

/** Image `i`'s pixels (a view, not a copy). */
export function imageAt(set: ImageSet, i: number): Float32Array {
  const p = pixelsPerImage(set);
  return set.images.subarray(i * p, (i + 1) * p);
}

/** Throws a DataError naming `where` unless the fields agree with each other. */
export function checkImageSet(set: ImageSet, where = "image set"): ImageSet {
  if (!Number.isSafeInteger(set.n) || set.n < 0) throw new DataError(where, `bad image count ${set.n}`);
  if (!Number.isSafeInteger(set.height) || set.height < 1 || !Number.isSafeInteger(set.width) || set.width < 1) {
    throw new DataError(where, `bad image size ${set.height}×${set.width}`);
  }
  if (set.images.length !== set.n * pixelsPerImage(set)) {
    throw new DataError(where, `${set.images.length} values for ${set.n} images of ${set.height}×${set.width}×3`);
  }
  for (const [name, labels] of Object.entries(set.attributes ?? {})) {
    if (labels.length !== set.n) throw new DataError(where, `attribute ${name} has ${labels.length} labels for ${set.n} images`);
  }
  return set;
}

/** The images at `indices`, with their labels. */
export function selectImages(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const p = pixelsPerImage(set);
  const images = new Float32Array(indices.length * p);
  for (let k = 0; k < indices.length; k++) images.set(set.images.subarray(indices[k] * p, (indices[k] + 1) * p), k * p);
  const out: ImageSet = { images, n: indices.length, height: set.height, width: set.width };
  if (!set.attributes) return out;
  const attributes: Record<string, Uint8Array> = {};
  for (const [name, labels] of Object.entries(set.attributes)) attributes[name] = Uint8Array.from({ length: indices.length }, (_, k) => labels[indices[k]]);
  return { ...out, attributes };
}

/** All images of `sets` in order; labels are kept only if every set has them. */
export function concatImages(sets: readonly ImageSet[]): ImageSet {
  if (sets.length === 0) throw new RangeError("concatImages: no image sets");
  const { height, width } = sets[0];
  for (const s of sets) {
    if (s.height !== height || s.width !== width) throw new RangeError(`concatImages: ${s.height}×${s.width} images next to ${height}×${width} ones`);
  }
  const n = sets.reduce((a, s) => a + s.n, 0);
  const images = new Float32Array(n * height * width * 3);
  let offset = 0;
  for (const s of sets) {
    images.set(s.images, offset);
    offset += s.images.length;
  }
  const out: ImageSet = { images, n, height, width };
  const names = Object.keys(sets[0].attributes ?? {});
  if (names.length === 0 || !sets.every((s) => s.attributes && names.every((a) => a in s.attributes!))) return out;
  const attributes: Record<string, Uint8Array> = {};
  for (const name of names) {
    const labels = new Uint8Array(n);
    let k = 0;
    for (const s of sets) (labels.set(s.attributes![name], k), (k += s.n));
    attributes[name] = labels;
  }
  return { ...out, attributes };
}

/** Rounds every value to the nearest k/255 in [0, 1], in place: an 8-bit image, as if saved as PNG. */
export function quantize8(values: Float32Array): Float32Array {
  for (let i = 0; i < values.length; i++) values[i] = Math.round(Math.min(1, Math.max(0, values[i])) * 255) / 255;
  return values;
}

const MAGIC = 0x31474d49; // "IMG1"
const PIXELS_U8 = 1;
const PIXELS_F32 = 2;

/**
 * Binary layout (little-endian): magic u32, n u32, height u32, width u32, pixel format u32 (1: one byte
 * per value, v·255; 2: float32), attribute count u32, per attribute a u32 name length, UTF-8 name and
 * n label bytes; then the pixels. 8-bit images (the normal case) are stored as bytes, anything else
 * as float32, so decoding always returns exactly what was encoded.
 */
export const imageCodec: DataCodec<ImageSet> = {
  encode(set) {
    checkImageSet(set);
    const eightBit = set.images.every((v) => v >= 0 && v <= 1 && Math.fround(Math.round(v * 255) / 255) === v);
    const names = Object.keys(set.attributes ?? {}).sort();
    const nameBytes = names.map((a) => Buffer.from(a, "utf8"));
    const headerSize = 24 + nameBytes.reduce((s, b) => s + 4 + b.length + set.n, 0);
    const pixelBytes = set.images.length * (eightBit ? 1 : 4);
    const buf = Buffer.alloc(headerSize + pixelBytes);
    [MAGIC, set.n, set.height, set.width, eightBit ? PIXELS_U8 : PIXELS_F32, names.length].forEach((v, i) => buf.writeUInt32LE(v, 4 * i));
    let o = 24;
    names.forEach((name, i) => {
      buf.writeUInt32LE(nameBytes[i].length, o);
      buf.set(nameBytes[i], o + 4);
      buf.set(set.attributes![name], o + 4 + nameBytes[i].length);
      o += 4 + nameBytes[i].length + set.n;
    });
    if (eightBit) for (let i = 0; i < set.images.length; i++) buf[o + i] = Math.round(set.images[i] * 255);
    else for (let i = 0; i < set.images.length; i++) buf.writeFloatLE(set.images[i], o + 4 * i);
    return buf;
  },
  decode(bytes) {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const bad = (detail: string): never => {
      throw new DataError("image dataset", detail);
    };
    if (buf.length < 24 || buf.readUInt32LE(0) !== MAGIC) bad("not a collapse-kit image dataset (bad magic)");
    const [n, height, width, format, count] = [1, 2, 3, 4, 5].map((i) => buf.readUInt32LE(4 * i));
    if (format !== PIXELS_U8 && format !== PIXELS_F32) bad(`unknown pixel format ${format}`);
    let o = 24;
    const attributes: Record<string, Uint8Array> = {};
    for (let a = 0; a < count; a++) {
      if (o + 4 > buf.length) bad("truncated attribute table");
      const len = buf.readUInt32LE(o);
      if (o + 4 + len + n > buf.length) bad("truncated attribute table");
      const name = buf.toString("utf8", o + 4, o + 4 + len);
      attributes[name] = Uint8Array.from(buf.subarray(o + 4 + len, o + 4 + len + n));
      o += 4 + len + n;
    }
    const values = n * height * width * 3;
    const expected = o + values * (format === PIXELS_U8 ? 1 : 4);
    if (buf.length !== expected) bad(`truncated or corrupt: ${buf.length} bytes, expected ${expected}`);
    const images = new Float32Array(values);
    if (format === PIXELS_U8) for (let i = 0; i < values; i++) images[i] = buf[o + i] / 255;
    else for (let i = 0; i < values; i++) images[i] = buf.readFloatLE(o + 4 * i);
    return { images, n, height, width, ...(count > 0 ? { attributes } : {}) };
  },
};
