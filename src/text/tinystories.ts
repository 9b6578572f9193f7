import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "../errors";
import { packageRoot } from "../environment";
import { type DownloadOptions, downloadFile } from "../store/download";

/** Where TinyStories (Eldan & Li 2023, the §3.1 dataset) is published. */
export const TINYSTORIES_URL = "https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main";
export const TINYSTORIES_FILES = { train: "TinyStories-train.txt", valid: "TinyStories-valid.txt" } as const;

const OFFLINE_HINT =
  `Use the embedded corpus (--data embedded), or set COLLAPSE_TINYSTORIES_DIR to a directory holding ${TINYSTORIES_FILES.train} and ` +
  `${TINYSTORIES_FILES.valid} (any file in that format also works: --data text:PATH).`;

export { OfflineError } from "../store/download";
export type { DownloadOptions } from "../store/download";

export interface TinyStoriesOptions extends DownloadOptions {
  /** A directory already holding both files; default $COLLAPSE_TINYSTORIES_DIR. Never downloads. */
  localDir?: string;
  /** Download cache; default $COLLAPSE_DATA_DIR, else <packageRoot>/data/cache. */
  cacheDir?: string;
  /** Base URL the two files are fetched from; default $COLLAPSE_TINYSTORIES_URL, else TINYSTORIES_URL. */
  baseUrl?: string;
  /** Environment to read the defaults from (tests); default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface TinyStoriesFiles {
  train: string;
  valid: string;
  /** Where the files came from this time. */
  source: "local" | "cache" | "download";
}

/**
 * Paths of the two TinyStories files: a local copy if one is configured, else the download cache,
 * downloading what is missing. Files in the cache are complete by construction (see downloadFile).
 */
export async function tinyStoriesFiles(opts: TinyStoriesOptions = {}): Promise<TinyStoriesFiles> {
  const env = opts.env ?? process.env;
  const localDir = opts.localDir ?? (env.COLLAPSE_TINYSTORIES_DIR || undefined);
  if (localDir !== undefined) {
    const files = { train: path.join(localDir, TINYSTORIES_FILES.train), valid: path.join(localDir, TINYSTORIES_FILES.valid) };
    for (const f of [files.train, files.valid]) {
      if (!fs.existsSync(f)) throw new DataError(f, "missing: the local TinyStories directory (COLLAPSE_TINYSTORIES_DIR) must hold both files");
    }
    return { ...files, source: "local" };
  }
  const dir = path.join(opts.cacheDir ?? (env.COLLAPSE_DATA_DIR || path.join(packageRoot(), "data", "cache")), "tinystories");
  const baseUrl = (opts.baseUrl ?? (env.COLLAPSE_TINYSTORIES_URL || TINYSTORIES_URL)).replace(/\/+$/, "");
  let downloaded = false;
  const out = { train: "", valid: "" };
  // valid first: it is small, so an offline machine fails before any long wait.
  for (const part of ["valid", "train"] as const) {
    const file = path.join(dir, TINYSTORIES_FILES[part]);
    if (!fs.existsSync(file)) {
      await downloadFile(`${baseUrl}/${TINYSTORIES_FILES[part]}`, file, { ...opts, what: "TinyStories", offlineHint: OFFLINE_HINT });
      downloaded = true;
    }
    out[part] = file;
  }
  return { ...out, source: downloaded ? "download" : "cache" };
}
