import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "../errors";
import { progressBar, type ProgressOptions } from "../progress";

/**
 * Downloads for every dataset loader (TinyStories, GEOM): a file appears at its destination only
 * when complete, with a progress bar, timeouts, and errors that name the URL.
 */

export interface DownloadOptions {
  /** Progress bar options; false for none. Default: a bar on stderr. */
  progress?: ProgressOptions | false;
  /** Give up when no response headers arrive within this time (ms); default 30 s. */
  connectTimeoutMs?: number;
  /** Give up when the body stalls this long (ms); default 60 s. */
  idleTimeoutMs?: number;
  /** What is downloaded, for messages ("TinyStories"). */
  what?: string;
  /** What to tell the user when the server cannot be reached at all (the offline alternative). */
  offlineHint?: string;
}

/** The server could not be reached at all (no network, DNS failure, refused, timed out). */
export class OfflineError extends DataError {
  constructor(
    url: string,
    /** The system's reason, e.g. "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:80". */
    readonly reason: string,
    hint?: string,
    what?: string,
  ) {
    super(url, `cannot download${what ? ` ${what}` : ""} (${reason}). Offline?${hint ? ` ${hint}` : ""}`);
    this.name = "OfflineError";
  }
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
    throw new OfflineError(url, describeFetchError(e), opts.offlineHint, opts.what);
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
