import * as fs from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { ConfigError, DataError } from "../errors";
import { Rng } from "../random";

/**
 * A text corpus is a list of documents (strings). On disk it uses TinyStories' format: documents
 * separated by a line holding only `<|endoftext|>`. Parsing normalizes CRLF to LF, trims each
 * document and drops empty ones, so a trailing separator, blank lines around separators and a
 * separator without a final newline all read the same.
 */
export const DOCUMENT_SEPARATOR = "<|endoftext|>";

export interface TextCorpus {
  train: string[];
  /** Always real text: synthetic data never enters validation (§3.1 evaluates on real stories). */
  valid: string[];
}

export interface ReadDocumentsOptions {
  /** Stop after this many documents (the rest of the file is never read). */
  limit?: number;
}

/**
 * Streams the documents of a file in the separator format. Memory stays at one document plus one
 * read chunk, so the 1.9 GB TinyStories training file never has to be held whole.
 */
export async function* iterateDocuments(file: string, opts: ReadDocumentsOptions = {}): AsyncGenerator<string> {
  const limit = opts.limit ?? Infinity;
  if (limit <= 0) return;
  let stream: fs.ReadStream;
  try {
    await fs.promises.access(file, fs.constants.R_OK);
    stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  } catch (e) {
    throw new DataError(file, `cannot read text corpus: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!(await fs.promises.stat(file)).isFile()) {
    stream.destroy();
    throw new DataError(file, "is not a file (expected a text file of documents separated by <|endoftext|> lines)");
  }
  // StringDecoder keeps a multi-byte character split across two chunks whole.
  const decoder = new StringDecoder("utf8");
  const parser = new DocumentParser();
  let count = 0;
  try {
    for await (const chunk of stream) {
      for (const doc of parser.push(decoder.write(chunk as Buffer))) {
        yield doc;
        if (++count >= limit) return;
      }
    }
    for (const doc of parser.push(decoder.end(), true)) {
      yield doc;
      if (++count >= limit) return;
    }
  } finally {
    stream.destroy();
  }
}

/** Collects up to `limit` documents of a file (see `iterateDocuments`). */
export async function readDocuments(file: string, opts: ReadDocumentsOptions = {}): Promise<string[]> {
  const docs: string[] = [];
  for await (const doc of iterateDocuments(file, opts)) docs.push(doc);
  return docs;
}

/** The documents of a string in the separator format. */
export function parseDocuments(text: string): string[] {
  return new DocumentParser().push(text, true);
}

/**
 * The separator format of `docs`, ending with a separator line as TinyStories does. Throws when a
 * document could not be read back as itself: empty, untrimmed, or holding a separator line.
 */
export function formatDocuments(docs: readonly string[]): string {
  for (let i = 0; i < docs.length; i++) {
    const d = docs[i];
    if (d.length === 0 || d !== d.trim() || d.includes("\r") || d.split("\n").some((l) => l.trim() === DOCUMENT_SEPARATOR)) {
      throw new RangeError(`document ${i} would not read back unchanged (empty, untrimmed, CR, or a separator line)`);
    }
  }
  return docs.map((d) => `${d}\n${DOCUMENT_SEPARATOR}\n`).join("");
}

/** Incremental line splitter: text goes in piecewise, finished documents come out. */
class DocumentParser {
  private pending = ""; // an unfinished last line
  private lines: string[] = [];

  push(text: string, final = false): string[] {
    const out: string[] = [];
    let buf = this.pending + text;
    let start = 0;
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n", start)) {
      this.line(buf.slice(start, nl), out);
      start = nl + 1;
    }
    buf = buf.slice(start);
    if (final) {
      if (buf.length > 0) this.line(buf, out);
      this.flush(out);
      this.pending = "";
    } else this.pending = buf;
    return out;
  }

  private line(raw: string, out: string[]): void {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === DOCUMENT_SEPARATOR) this.flush(out);
    else this.lines.push(line);
  }

  private flush(out: string[]): void {
    const doc = this.lines.join("\n").trim();
    this.lines = [];
    if (doc.length > 0) out.push(doc);
  }
}

/**
 * A seeded train/validation split by document. Both parts keep the documents' original order.
 * Validation gets round(n·fraction) documents, at least one and never all.
 */
export function splitDocuments(docs: readonly string[], validFraction: number, seed: number): TextCorpus {
  if (!(validFraction > 0 && validFraction < 1)) throw new ConfigError("validFraction", `must lie in (0, 1), got ${validFraction}`);
  if (docs.length < 2) throw new ConfigError("documents", `need at least 2 documents to split, got ${docs.length}`);
  const nValid = Math.min(docs.length - 1, Math.max(1, Math.round(docs.length * validFraction)));
  const isValid = new Uint8Array(docs.length);
  for (const i of Rng.derive(seed, "text-split").choose(docs.length, nValid)) isValid[i] = 1;
  const train: string[] = [];
  const valid: string[] = [];
  docs.forEach((d, i) => (isValid[i] ? valid : train).push(d));
  return { train, valid };
}
