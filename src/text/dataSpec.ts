import * as path from "node:path";
import { ConfigError } from "../errors";
import { iterateDocuments, readDocuments, splitDocuments, type TextCorpus } from "./corpus";
import { embeddedCorpus } from "./stories";
import { tinyStoriesFiles, type TinyStoriesOptions } from "./tinystories";

/** Where the §3.1 text comes from: the offline story generator, TinyStories, or any file in its format. */
export type DataSpec = { kind: "embedded" } | { kind: "tinystories" } | { kind: "text"; path: string };

const FORMS = `"embedded", "tinystories" or "text:PATH"`;

export function parseDataSpec(spec: unknown, field = "data"): DataSpec {
  if (spec === "embedded" || spec === "tinystories") return { kind: spec };
  if (typeof spec === "string" && spec.startsWith("text:")) {
    const p = spec.slice("text:".length);
    if (p.trim().length === 0) throw new ConfigError(field, `"text:" needs a file path, e.g. text:stories.txt (valid forms: ${FORMS})`);
    return { kind: "text", path: p };
  }
  throw new ConfigError(field, `expected ${FORMS}, got ${JSON.stringify(spec)}`);
}

export function formatDataSpec(spec: DataSpec): string {
  return spec.kind === "text" ? `text:${spec.path}` : spec.kind;
}

export interface LoadCorpusOptions extends TinyStoriesOptions {
  /** Seed of the embedded stories and of the text:PATH split; default 0. */
  seed?: number;
  /** Number of embedded stories (train + valid); default 20000. */
  embeddedDocuments?: number;
  /** Validation share for embedded and text:PATH; default 0.05. TinyStories has its own valid file. */
  validFraction?: number;
  /** At most this many training / validation documents (TinyStories reads only that far). */
  trainDocuments?: number;
  validDocuments?: number;
  /** At most the documents whose UTF-8 bytes first reach this many (the one that crosses included). */
  trainBytes?: number;
  validBytes?: number;
}

/** The documents of `docs` up to and including the one at which their UTF-8 bytes reach `bytes`. */
export function prefixByBytes(docs: readonly string[], bytes: number | undefined): string[] {
  if (bytes === undefined) return [...docs];
  let total = 0;
  for (let i = 0; i < docs.length; i++) {
    total += Buffer.byteLength(docs[i], "utf8");
    if (total >= bytes) return docs.slice(0, i + 1);
  }
  return [...docs];
}

async function readPrefix(file: string, limit: number | undefined, bytes: number | undefined): Promise<string[]> {
  const docs: string[] = [];
  let total = 0;
  for await (const doc of iterateDocuments(file, { limit })) {
    docs.push(doc);
    total += Buffer.byteLength(doc, "utf8");
    if (bytes !== undefined && total >= bytes) break;
  }
  return docs;
}

/** Stories the embedded generator makes for `bytes` of text (a story has at least 60 words, ~300 bytes). */
export function embeddedStoriesFor(bytes: number): number {
  return Math.ceil(bytes / 300);
}

/** The train/validation documents of a data spec. Validation is always real (never synthetic) text. */
export async function loadCorpus(spec: DataSpec | string, opts: LoadCorpusOptions = {}): Promise<TextCorpus> {
  const s = typeof spec === "string" ? parseDataSpec(spec) : spec;
  const seed = opts.seed ?? 0;
  const validFraction = opts.validFraction ?? 0.05;
  const cap = (c: TextCorpus): TextCorpus => ({
    train: prefixByBytes(c.train.slice(0, opts.trainDocuments), opts.trainBytes),
    valid: prefixByBytes(c.valid.slice(0, opts.validDocuments), opts.validBytes),
  });
  switch (s.kind) {
    case "embedded":
      return cap(embeddedCorpus({ documents: opts.embeddedDocuments ?? 20_000, seed, validFraction }));
    case "text":
      // The split is over all documents of the file, so limits never change which part a document is in.
      return cap(splitDocuments(await readDocuments(path.resolve(s.path)), validFraction, seed));
    case "tinystories": {
      const files = await tinyStoriesFiles(opts);
      return {
        train: await readPrefix(files.train, opts.trainDocuments, opts.trainBytes),
        valid: await readPrefix(files.valid, opts.validDocuments, opts.validBytes),
      };
    }
  }
}
