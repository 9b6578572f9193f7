import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "../errors";
import { packageRoot } from "../environment";
import { progressBar, type ProgressOptions } from "../progress";

/** Where TinyStories (Eldan & Li 2023, the §3.1 dataset) is published. */
export const TINYSTORIES_URL = "https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main";
export const TINYSTORIES_FILES = { train: "TinyStories-train.txt", valid: "TinyStories-valid.txt" } as const;

export interface DownloadOptions {
  /** Progress bar options; false for none. Default: a bar on stderr. */
  progress?: ProgressOptions | false;
  /** Give up when no response headers arrive within this time (ms); default 30 s. */
  connectTimeoutMs?: number;
  /** Give up when the body stalls this long (ms); default 60 s. */
  idleTimeoutMs?: number;
}

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

/** The server could not be reached at all (no network, DNS failure, refused, timed out). */
export class OfflineError extends DataError {
  constructor(url: string, cause: string) {
    super(
      url,
      `cannot download TinyStories (${cause}). Offline? Use the embedded corpus (--data embedded), ` +
        `or set COLLAPSE_TINYSTORIES_DIR to a directory holding ${TINYSTORIES_FILES.train} and ` +
        `${TINYSTORIES_FILES.valid} (any file in that format also works: --data text:PATH).`,
    );
    this.name = "OfflineError";
  }
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
      await downloadFile(`${baseUrl}/${TINYSTORIES_FILES[part]}`, file, opts);
      downloaded = true;
    }
    out[part] = file;
  }
  return { ...out, source: downloaded ? "download" : "cache" };
}

let tmpCounter = 0;

/**
 * Streams `url` into a temporary file next to `dest` and renames it on success, so `dest` exists only
 * when complete; any failure removes the temporary file. Returns the number of bytes written.
 */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<number> {
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(new Error("timed out waiting for a response")), opts.connectTimeoutMs ?? 30_000);
  let res: Response;
  try {
    res = await fetch(url, { signal: controller.signal });
  } catch (e) {
    clearTimeout(timer);
    throw new OfflineError(url, describeFetchError(e));
  }
  if (!res.ok || !res.body) {
    clearTimeout(timer);
    await res.body?.cancel().catch(() => undefined);
    throw new DataError(url, `download failed: HTTP ${res.status} ${res.statusText}`);
  }
  const total = Number(res.headers.get("content-length")) || 0;
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.part-${process.pid}-${tmpCounter++}`;
  const mb = (n: number) => Math.floor(n / 1e6);
  const bar = opts.progress === false ? null : progressBar(`download ${path.basename(dest)} (MB)`, Math.max(1, Math.ceil(total / 1e6)), opts.progress);
  const idle = opts.idleTimeoutMs ?? 60_000;
  let bytes = 0; // a body shorter than its Content-Length makes fetch itself throw ("terminated")
  const fd = await fs.promises.open(tmp, "w");
  try {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(timer);
        timer = setTimeout(() => controller.abort(new Error(`no data for ${idle} ms`)), idle);
        await fd.write(chunk);
        bytes += chunk.length;
        bar?.update(mb(bytes));
      }
      await fd.sync();
    } finally {
      clearTimeout(timer);
      await fd.close();
    }
    fs.renameSync(tmp, dest);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new DataError(url, `download interrupted after ${bytes} bytes: ${describeFetchError(e)}`);
  }
  bar?.finish(`${(bytes / 1e6).toFixed(1)} MB`);
  return bytes;
}

/** The useful part of a fetch failure: undici hides the system error code in `cause`. */
function describeFetchError(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err?.cause;
  if (cause?.code) return `${cause.code}: ${cause.message ?? err.message}`;
  return cause?.message ?? err?.message ?? String(e);
}
