import * as fs from "node:fs";
import { ConfigError, DataError } from "../errors";
import { writeFileAtomic } from "../store/runStore";
import { BinaryHeap } from "./heap";

/**
 * Byte-level BPE (as in GPT-2), trained on the training documents.
 *
 * Ids: 0–255 are the bytes; 256 is the end-of-document token `<|endoftext|>` (EOT_ID, reserved
 * before any merge so it has the same id at every vocabulary size); merge k (0-based) gets id 257+k.
 * `vocabSize` = 257 + number of merges.
 *
 * Special token choice: `encode` treats its input as plain text, so the literal characters
 * "<|endoftext|>" inside a document are encoded as ordinary bytes, never as EOT_ID. Only
 * `encodeDocument` adds EOT_ID, after the document. A story can therefore never forge a document
 * boundary, and encode/decode round-trips every valid string exactly.
 */
export const EOT_TEXT = "<|endoftext|>";
export const EOT_ID = 256;
const FIRST_MERGE_ID = 257;
const FORMAT = "collapse-kit/bpe";
const VERSION = 1;
const PRETOKENIZER = "gpt2-like-v1";
/**
 * Pairs are keyed a·2^15 + b. Keeping keys below 2^30 keeps them V8 small integers, which makes the
 * pair maps several times faster than double keys; it caps the vocabulary at 32768 (the kit's paper profile uses 8000; the paper states none).
 */
const KEY = 2 ** 15;
export const MAX_VOCAB_SIZE = KEY;

/**
 * Pre-tokenization (GPT-2-like): English contractions, words with one optional leading space,
 * runs of up to 3 digits, punctuation runs, and whitespace (a run keeps its last space for the next
 * word). Merges never cross these chunks. Every character falls into some alternative.
 */
const PRETOKEN = /'(?:s|t|re|ve|m|ll|d)(?![\p{L}\p{M}])| ?[\p{L}\p{M}]+| ?\p{N}{1,3}| ?[^\s\p{L}\p{M}\p{N}]+|\s+(?!\S)|\s+/gu;

export function pretokenize(text: string): string[] {
  return text.match(PRETOKEN) ?? [];
}

export interface BpeTrainOptions {
  /** Total vocabulary: 256 bytes + EOT + merges (the paper does not state its vocabulary). */
  vocabSize: number;
  /** Called every 100 merges and at the end. */
  onProgress?: (vocab: number, target: number) => void;
}

/**
 * Trains on `docs`. Chunk frequencies are counted once; each merge then rewrites only the chunk
 * types that contain the merged pair (found through a pair → chunk index) and updates pair counts
 * by difference. The most frequent pair wins; ties go to the smaller (left id, right id), so
 * training is deterministic. Stops early (smaller vocabulary) if the text runs out of pairs.
 */
export function trainBpe(docs: Iterable<string>, opts: BpeTrainOptions): BpeTokenizer {
  const target = opts.vocabSize;
  if (!Number.isSafeInteger(target) || target < FIRST_MERGE_ID || target > MAX_VOCAB_SIZE) {
    throw new ConfigError("vocabSize", `expected an integer in [${FIRST_MERGE_ID}, ${MAX_VOCAB_SIZE}], got ${target}`);
  }
  const chunkCounts = new Map<string, number>();
  for (const doc of docs) for (const c of pretokenize(doc)) chunkCounts.set(c, (chunkCounts.get(c) ?? 0) + 1);

  const words: number[][] = [];
  const freq: number[] = [];
  const pairCount = new Map<number, number>();
  const where = new Map<number, number[]>(); // pair → chunk types that may contain it (stale entries allowed)
  const note = (key: number, w: number) => {
    const list = where.get(key);
    if (!list) where.set(key, [w]);
    else if (list[list.length - 1] !== w) list.push(w);
  };
  for (const [chunk, n] of chunkCounts) {
    const w = words.length;
    const syms = Array.from(Buffer.from(chunk, "utf8"));
    words.push(syms);
    freq.push(n);
    for (let i = 0; i + 1 < syms.length; i++) {
      const key = syms[i] * KEY + syms[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + n);
      note(key, w);
    }
  }
  chunkCounts.clear();

  // Max-heap of (count, key), lazily invalidated: an entry is current only if its count still matches.
  const heap = new BinaryHeap<{ count: number; key: number }>((x, y) => x.count > y.count || (x.count === y.count && x.key < y.key));
  for (const [key, count] of pairCount) heap.push({ count, key });

  const merges: number[] = [];
  const seen = new Int32Array(words.length).fill(-1);
  for (let id = FIRST_MERGE_ID; id < target; id++) {
    let top = heap.pop();
    while (top && pairCount.get(top.key) !== top.count) top = heap.pop();
    if (!top) break;
    const a = Math.floor(top.key / KEY);
    const b = top.key % KEY;
    merges.push(a, b);
    const delta = new Map<number, number>();
    const add = (key: number, d: number) => delta.set(key, (delta.get(key) ?? 0) + d);
    for (const w of where.get(top.key) ?? []) {
      if (seen[w] === id) continue;
      seen[w] = id;
      const old = words[w];
      const next = mergePair(old, a, b, id);
      if (next.length === old.length) continue; // a stale index entry
      const n = freq[w];
      for (let i = 0; i + 1 < old.length; i++) add(old[i] * KEY + old[i + 1], -n);
      for (let i = 0; i + 1 < next.length; i++) {
        const key = next[i] * KEY + next[i + 1];
        add(key, n);
        if (next[i] === id || next[i + 1] === id) note(key, w);
      }
      words[w] = next;
    }
    where.delete(top.key);
    for (const [key, d] of delta) {
      if (d === 0) continue;
      const count = (pairCount.get(key) ?? 0) + d;
      if (count > 0) {
        pairCount.set(key, count);
        heap.push({ count, key });
      } else pairCount.delete(key);
    }
    if (opts.onProgress && (id - FIRST_MERGE_ID) % 100 === 99) opts.onProgress(id + 1, target);
  }
  opts.onProgress?.(FIRST_MERGE_ID + merges.length / 2, target);
  return new BpeTokenizer(merges);
}

/** `syms` with every (a, b) replaced by `id`, left to right, non-overlapping (as encode does). */
function mergePair(syms: readonly number[], a: number, b: number, id: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < syms.length; i++) {
    if (syms[i] === a && i + 1 < syms.length && syms[i + 1] === b) {
      out.push(id);
      i++;
    } else out.push(syms[i]);
  }
  return out;
}

export interface TokenizerJson {
  format: typeof FORMAT;
  version: number;
  pretokenizer: string;
  eot: { id: number; text: string };
  vocabSize: number;
  /** Merge k is [a, b] → id 257+k. */
  merges: [number, number][];
}

/** Length of the well-formed UTF-8 sequence starting at bytes[i] (RFC 3629), or 0 if there is none. */
function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i];
  if (b0 < 0x80) return 1;
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) n = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 === 0xe0) lo = 0xa0; // no overlong forms
    if (b0 === 0xed) hi = 0x9f; // no surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 === 0xf0) lo = 0x90;
    if (b0 === 0xf4) hi = 0x8f; // nothing above U+10FFFF
  } else return 0;
  if (i + n > bytes.length) return 0;
  if (bytes[i + 1] < lo || bytes[i + 1] > hi) return 0;
  for (let k = 2; k < n; k++) if ((bytes[i + k] & 0xc0) !== 0x80) return 0;
  return n;
}

/** The bytes with every ill-formed or incomplete UTF-8 sequence removed (a copy only when there is one). */
export function validUtf8(bytes: Uint8Array): Uint8Array {
  let out: Uint8Array | null = null;
  let at = 0;
  for (let i = 0; i < bytes.length; ) {
    const n = utf8SequenceLength(bytes, i);
    if (n === 0) {
      if (!out) {
        out = new Uint8Array(bytes.length);
        out.set(bytes.subarray(0, i));
        at = i;
      }
      i += 1;
      continue;
    }
    if (out) out.set(bytes.subarray(i, i + n), at);
    at += n;
    i += n;
  }
  return out ? out.subarray(0, at) : bytes;
}

export class BpeTokenizer {
  readonly vocabSize: number;
  readonly eotId = EOT_ID;
  /** Pair key → merged id; a lower id is an earlier merge and wins. */
  private readonly rank = new Map<number, number>();
  private readonly bytes: Uint8Array[] = [];
  private readonly cache = new Map<string, Int32Array>();
  private readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true }); // keep a leading U+FEFF

  /** `merges`: flat [a0, b0, a1, b1, ...]; use trainBpe or fromJSON rather than this directly. */
  constructor(private readonly merges: readonly number[]) {
    for (let i = 0; i < 256; i++) this.bytes.push(Uint8Array.of(i));
    this.bytes.push(Buffer.from(EOT_TEXT, "utf8"));
    for (let k = 0; k < merges.length; k += 2) {
      const [a, b] = [merges[k], merges[k + 1]];
      this.rank.set(a * KEY + b, this.bytes.length);
      this.bytes.push(Buffer.concat([this.bytes[a], this.bytes[b]]));
    }
    this.vocabSize = this.bytes.length;
  }

  /** Token ids of plain text (no EOT, even for a literal "<|endoftext|>"). */
  encode(text: string): Int32Array {
    const out: number[] = [];
    this.encodeInto(text, out);
    return Int32Array.from(out);
  }

  /** A document as the language model sees it: its tokens followed by EOT_ID. */
  encodeDocument(text: string): Int32Array {
    const out: number[] = [];
    this.encodeInto(text, out);
    out.push(EOT_ID);
    return Int32Array.from(out);
  }

  /** Documents concatenated, each followed by EOT_ID (the training stream). */
  encodeDocuments(docs: Iterable<string>): Int32Array {
    const out: number[] = [];
    for (const d of docs) {
      this.encodeInto(d, out);
      out.push(EOT_ID);
    }
    return Int32Array.from(out);
  }

  /**
   * Text of `ids`. EOT_ID decodes to "<|endoftext|>" unless skipSpecial. Byte-level tokens let a model
   * emit bytes that are not UTF-8 (half a character, a stray continuation byte): those bytes are
   * dropped, always, so generated text never shows U+FFFD for them (a U+FFFD the text really holds is kept).
   */
  decode(ids: ArrayLike<number>, opts: { skipSpecial?: boolean } = {}): string {
    const parts: Uint8Array[] = [];
    let length = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const b = this.bytes[id];
      if (b === undefined || !Number.isInteger(id)) throw new RangeError(`token id ${id} outside the vocabulary [0, ${this.vocabSize})`);
      if (id === EOT_ID && opts.skipSpecial) continue;
      parts.push(b);
      length += b.length;
    }
    const all = new Uint8Array(length);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return this.decoder.decode(validUtf8(all));
  }

  /** The bytes of one token, as text (may be a partial character). */
  tokenText(id: number): string {
    return this.decode([id]);
  }

  private encodeInto(text: string, out: number[]): void {
    for (const chunk of pretokenize(text)) {
      let ids = this.cache.get(chunk);
      if (!ids) {
        ids = this.encodeChunk(chunk);
        // Bounded, so encoding a huge corpus cannot grow memory without limit.
        if (this.cache.size >= 200_000) this.cache.clear();
        this.cache.set(chunk, ids);
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
  }

  /** Applies merges in training order: repeatedly merge the adjacent pair that was learned first. */
  private encodeChunk(chunk: string): Int32Array {
    let syms = Array.from(Buffer.from(chunk, "utf8"));
    for (;;) {
      let best = Infinity;
      for (let i = 0; i + 1 < syms.length; i++) {
        const r = this.rank.get(syms[i] * KEY + syms[i + 1]);
        if (r !== undefined && r < best) best = r;
      }
      if (best === Infinity) return Int32Array.from(syms);
      const k = 2 * (best - FIRST_MERGE_ID);
      syms = mergePair(syms, this.merges[k], this.merges[k + 1], best);
    }
  }

  toJSON(): TokenizerJson {
    const merges: [number, number][] = [];
    for (let k = 0; k < this.merges.length; k += 2) merges.push([this.merges[k], this.merges[k + 1]]);
    return { format: FORMAT, version: VERSION, pretokenizer: PRETOKENIZER, eot: { id: EOT_ID, text: EOT_TEXT }, vocabSize: this.vocabSize, merges };
  }

  /** Checks everything: a corrupt or incompatible file is a DataError naming `source`, never a wrong tokenizer. */
  static fromJSON(json: unknown, source = "tokenizer.json"): BpeTokenizer {
    const fail = (detail: string): never => {
      throw new DataError(source, `not a usable BPE tokenizer: ${detail}`);
    };
    if (typeof json !== "object" || json === null) return fail("not a JSON object");
    const j = json as Partial<TokenizerJson>;
    if (j.format !== FORMAT) fail(`format ${JSON.stringify(j.format)}, expected "${FORMAT}"`);
    if (j.version !== VERSION) fail(`version ${JSON.stringify(j.version)}, this kit reads version ${VERSION}`);
    if (j.pretokenizer !== PRETOKENIZER) fail(`pretokenizer ${JSON.stringify(j.pretokenizer)}, expected "${PRETOKENIZER}"`);
    if (j.eot?.id !== EOT_ID || j.eot?.text !== EOT_TEXT) fail(`end-of-document token ${JSON.stringify(j.eot)}, expected id ${EOT_ID}`);
    if (!Array.isArray(j.merges)) return fail("merges missing");
    const flat: number[] = [];
    j.merges.forEach((m, k) => {
      const id = FIRST_MERGE_ID + k;
      const ok = Array.isArray(m) && m.length === 2 && m.every((x) => Number.isSafeInteger(x) && x >= 0 && x < id && x !== EOT_ID);
      if (!ok) fail(`merge ${k} is ${JSON.stringify(m)}: expected two earlier non-special ids`);
      flat.push(m[0], m[1]);
    });
    if (j.vocabSize !== FIRST_MERGE_ID + j.merges.length) fail(`vocabSize ${j.vocabSize} does not match ${j.merges.length} merges`);
    return new BpeTokenizer(flat);
  }
}

export function saveTokenizer(tok: BpeTokenizer, file: string): void {
  writeFileAtomic(file, JSON.stringify(tok.toJSON()));
}

export function loadTokenizer(file: string): BpeTokenizer {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new DataError(file, `cannot read tokenizer: ${(e as Error).message}`);
  }
  return BpeTokenizer.fromJSON(json, file);
}
