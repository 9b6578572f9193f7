import * as fs from "node:fs";
import * as os from "node:os";
import { DataError } from "../errors";
import { writeFileAtomic } from "../store/runStore";
import { type Params, toVariable } from "./params";

/**
 * The safetensors format (https://github.com/huggingface/safetensors), written and read here:
 *
 *   8 bytes   N, the header length, unsigned little-endian 64-bit
 *   N bytes   UTF-8 JSON: {"__metadata__": {string: string}, NAME: {"dtype": "F32", "shape": [..],
 *             "data_offsets": [begin, end]}, ...}, padded with spaces to a multiple of 8 bytes
 *   rest      the tensors' raw little-endian bytes; offsets are relative to the start of this buffer,
 *             and the tensors tile it exactly (no gaps, no overlap)
 *
 * Supported dtypes: F32 and I32. Tensors are written in name order.
 */

export type SafeDtype = "F32" | "I32";

export interface HostTensor {
  dtype: SafeDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface SafetensorsFile {
  tensors: Record<string, HostTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafeDtype, number> = { F32: 4, I32: 4 };
const LITTLE_ENDIAN = os.endianness() === "LE";

/** The bytes of a safetensors file holding `tensors` and `metadata`. */
export function encodeSafetensors(tensors: Record<string, HostTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string") throw new TypeError(`safetensors metadata ${k} must be a string, got ${typeof v}`);
  }
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    if (name === "__metadata__") throw new TypeError("a tensor cannot be named __metadata__");
    const t = tensors[name];
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (!(t.dtype in BYTES)) throw new TypeError(`tensor ${name}: unsupported dtype ${t.dtype}`);
    if (size !== t.data.length) throw new TypeError(`tensor ${name}: shape [${t.shape}] holds ${size} values, data has ${t.data.length}`);
    if ((t.dtype === "F32") !== t.data instanceof Float32Array) throw new TypeError(`tensor ${name}: dtype ${t.dtype} does not match its ${t.data.constructor.name}`);
    const bytes = size * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const name of names) {
    const t = tensors[name];
    const n = t.data.length;
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, n * 4), pos);
    } else {
      for (let i = 0; i < n; i++) {
        if (t.dtype === "F32") view.setFloat32(pos + 4 * i, t.data[i], true);
        else view.setInt32(pos + 4 * i, t.data[i], true);
      }
    }
    pos += n * 4;
  }
  return out;
}

/** Parses safetensors bytes; `file` names the source in errors. */
export function decodeSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  const bad = (detail: string): never => {
    throw new DataError(file, `not a valid safetensors file: ${detail}`);
  };
  if (bytes.length < 8) bad(`${bytes.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(bytes.length - 8)) bad(`header length ${n64} exceeds the ${bytes.length - 8} bytes after it`);
  const n = Number(n64);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString("utf8"));
  } catch (e) {
    bad(`header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) bad("header is not a JSON object");
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafeDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) bad("__metadata__ is not an object");
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") bad(`__metadata__.${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (typeof raw !== "object" || raw === null) bad(`entry ${name} is not an object`);
    const e = raw as Record<string, unknown>;
    if (typeof e.dtype !== "string" || !(e.dtype in BYTES)) bad(`tensor ${name}: unsupported dtype ${JSON.stringify(e.dtype)} (supported: F32, I32)`);
    const dtype = e.dtype as SafeDtype;
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`tensor ${name}: bad shape ${JSON.stringify(shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      bad(`tensor ${name}: bad data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as number[];
    if (begin > end || end > dataLength) bad(`tensor ${name}: data_offsets [${begin}, ${end}] outside the ${dataLength}-byte data buffer`);
    const size = (shape as number[]).reduce((a, b) => a * b, 1);
    if ((end - begin) !== size * BYTES[dtype]) bad(`tensor ${name}: shape [${shape}] ${dtype} needs ${size * BYTES[dtype]} bytes, data_offsets span ${end - begin}`);
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  // The tensors must tile the data buffer: no gaps, no overlaps, nothing trailing.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of entries) {
    if (e.begin !== expected) bad(`tensor ${e.name}: starts at byte ${e.begin}, expected ${expected} (gap or overlap)`);
    expected = e.end;
  }
  if (expected !== dataLength) bad(`the tensors cover ${expected} of ${dataLength} data bytes`);
  const tensors: Record<string, HostTensor> = {};
  for (const e of entries) {
    const count = (e.end - e.begin) / 4;
    const data = e.dtype === "F32" ? new Float32Array(count) : new Int32Array(count);
    const at = dataStart + e.begin;
    if (LITTLE_ENDIAN) {
      new Uint8Array(data.buffer).set(bytes.subarray(at, at + count * 4));
    } else {
      for (let i = 0; i < count; i++) data[i] = e.dtype === "F32" ? view.getFloat32(at + 4 * i, true) : view.getInt32(at + 4 * i, true);
    }
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data };
  }
  return { tensors, metadata };
}

/** Writes a safetensors file atomically (readers see the old file or the whole new one). */
export function writeSafetensors(file: string, tensors: Record<string, HostTensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

/** Reads and validates a safetensors file; problems are DataErrors naming the file. */
export function readSafetensors(file: string): SafetensorsFile {
  return decodeSafetensors(readBytes(file), file);
}

function readBytes(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new DataError(file, `cannot read: ${(e as Error).message}`);
  }
}

/** Model parameters (float32 variables) as safetensors bytes, with string metadata. */
export function encodeParams(params: Params, metadata: Record<string, string> = {}): Uint8Array {
  const tensors: Record<string, HostTensor> = {};
  for (const [name, v] of Object.entries(params)) {
    if (v.dtype !== "float32" && v.dtype !== "int32") throw new TypeError(`param ${name}: cannot save dtype ${v.dtype}`);
    tensors[name] = { dtype: v.dtype === "float32" ? "F32" : "I32", shape: v.shape.slice(), data: v.dataSync() as Float32Array | Int32Array };
  }
  return encodeSafetensors(tensors, metadata);
}

/** Parameters encoded by `encodeParams` as fresh trainable variables, with their metadata; `file` names them in errors. */
export function decodeParams(bytes: Uint8Array, file: string): { params: Params; metadata: Record<string, string> } {
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  const params: Params = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== "F32") {
      for (const v of Object.values(params)) v.dispose();
      throw new DataError(file, `tensor ${name} is ${t.dtype}; model parameters must be F32`);
    }
    params[name] = toVariable(t.data as Float32Array, t.shape);
  }
  return { params, metadata };
}

/** Saves model parameters (float32 variables) with string metadata, e.g. {config: JSON, tokenizer: JSON}. */
export function saveParams(file: string, params: Params, metadata: Record<string, string> = {}): void {
  writeFileAtomic(file, encodeParams(params, metadata));
}

/** Loads parameters saved by `saveParams` as fresh trainable variables, with the file's metadata. */
export function loadParams(file: string): { params: Params; metadata: Record<string, string> } {
  return decodeParams(readBytes(file), file);
}

/** Parameters and metadata as one artifact of a run (see Run.memo). */
export const paramsCodec = {
  encode: (p: { params: Params; metadata: Record<string, string> }): Uint8Array => encodeParams(p.params, p.metadata),
  decode: (bytes: Uint8Array): { params: Params; metadata: Record<string, string> } => decodeParams(bytes, "parameters"),
};

/** A safetensors file's metadata alone, reading only its header (a large checkpoint's step, say); null if unreadable. */
export function readSafetensorsMetadata(file: string): Record<string, string> | null {
  let fd: number | null = null;
  try {
    fd = fs.openSync(file, "r");
    const head = Buffer.alloc(8);
    if (fs.readSync(fd, head, 0, 8, 0) < 8) return null;
    const n = Number(head.readBigUInt64LE(0));
    if (n > 100_000_000) return null;
    const json = Buffer.alloc(n);
    fs.readSync(fd, json, 0, n, 8);
    const header = JSON.parse(json.toString("utf8")) as { __metadata__?: Record<string, string> };
    return header.__metadata__ ?? {};
  } catch {
    return null;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}
