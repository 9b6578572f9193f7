import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, DataError } from "../errors";
import { environmentInfo, packageRoot } from "../environment";

/** Bumped when the on-disk layout or the meaning of a config changes, so old runs are not reused. */
export const STORE_FORMAT = 1;

/**
 * A directory of runs, each keyed by the hash of its (kind, config): running the same config again finds
 * the finished run (instant), or the interrupted one (resume). Layout of one run:
 *   config.json     the config it was keyed by
 *   env.json        machine, Node and backend of the session that started it
 *   sessions.jsonl  one line per session that opened it (start and every resume)
 *   metrics.jsonl   one JSON record per finished unit of work, appended and fsynced
 *   artifacts/      files written atomically (tmp + rename)
 *   done.json       written last, with a summary, once the run is complete
 */
export class RunStore {
  constructor(readonly root: string) {}

  /** `$COLLAPSE_RUNS_DIR`, else `runs/` at the kit's root. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): RunStore {
    return new RunStore(path.resolve(env.COLLAPSE_RUNS_DIR || path.join(packageRoot(), "runs")));
  }

  /** The directory of the run for this config, whether or not it exists yet. */
  private locate(kind: string, config: unknown): { dir: string; key: string; canonical: string } {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(kind)) throw new ConfigError("kind", `run kind must be lowercase letters, digits and '-', got ${JSON.stringify(kind)}`);
    canonicalJson(config); // names a bad field as config.<path>
    const canonical = canonicalJson({ format: STORE_FORMAT, kind, config }, "run");
    const key = createHash("sha256").update(canonical).digest("hex").slice(0, 16);
    return { dir: path.join(this.root, kind, key), key, canonical };
  }

  /** The run directory for this config if it exists (nothing is created or locked), else null. */
  find(kind: string, config: unknown): string | null {
    const { dir } = this.locate(kind, config);
    return fs.existsSync(path.join(dir, "config.json")) ? dir : null;
  }

  /** The records (finished iterations) the run for this config holds, 0 when it has none; nothing is created or locked. */
  recordCount(kind: string, config: unknown): number {
    const dir = this.find(kind, config);
    return dir ? new Run(dir, path.basename(dir)).records().length : 0;
  }

  /** Opens (creating if needed) the run for this config and takes its lock. */
  open(kind: string, config: unknown, extraEnv: Record<string, unknown> = {}): Run {
    const { dir, key, canonical } = this.locate(kind, config);
    fs.mkdirSync(path.join(dir, "artifacts"), { recursive: true });
    const configPath = path.join(dir, "config.json");
    const env = { ...environmentInfo(), ...extraEnv };
    if (fs.existsSync(configPath)) {
      const stored = readJson(configPath) as { canonical?: string };
      if (stored.canonical !== canonical) {
        throw new DataError(configPath, "holds a different config than the one this run is keyed by; move the directory away");
      }
    } else {
      writeFileAtomic(configPath, JSON.stringify({ kind, key, createdAt: new Date().toISOString(), config, canonical }, null, 2));
      writeFileAtomic(path.join(dir, "env.json"), JSON.stringify(env, null, 2));
    }
    const run = new Run(dir, key);
    run.lock();
    fs.appendFileSync(path.join(dir, "sessions.jsonl"), JSON.stringify({ openedAt: new Date().toISOString(), records: run.records().length, env }) + "\n");
    return run;
  }

  /**
   * `open`, waiting while another live process holds the run (e.g. training a model this process would
   * otherwise train again); `onWait` is told the owner once.
   */
  async openWhenFree(kind: string, config: unknown, onWait: (owner: number) => void = () => {}): Promise<Run> {
    for (let waited = false; ; waited = true) {
      try {
        return this.open(kind, config);
      } catch (e) {
        if (!(e instanceof RunInUseError)) throw e;
        if (!waited) onWait(e.owner);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }
}

export class Run {
  private locked = false;

  constructor(
    readonly dir: string,
    readonly key: string,
  ) {}

  private get metricsPath(): string {
    return path.join(this.dir, "metrics.jsonl");
  }

  /** The complete records written so far. A torn last line (a crash mid-append) is ignored. */
  records<T = unknown>(): T[] {
    if (!fs.existsSync(this.metricsPath)) return [];
    const text = fs.readFileSync(this.metricsPath, "utf8");
    const complete = text.slice(0, text.lastIndexOf("\n") + 1);
    return complete
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line, i) => {
        try {
          return JSON.parse(line) as T;
        } catch {
          throw new DataError(this.metricsPath, `line ${i + 1} is not valid JSON; the run directory is corrupt`);
        }
      });
  }

  /** Appends one record durably. */
  append(record: unknown): void {
    const line = JSON.stringify(record, finiteOnly) + "\n";
    if (fs.existsSync(this.metricsPath)) {
      // Drop a torn tail left by a crash, so the new record starts on its own line.
      const text = fs.readFileSync(this.metricsPath, "utf8");
      const end = text.lastIndexOf("\n") + 1;
      if (end !== text.length) fs.truncateSync(this.metricsPath, Buffer.byteLength(text.slice(0, end)));
    }
    const fd = fs.openSync(this.metricsPath, "a");
    try {
      fs.writeSync(fd, line);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  artifactPath(name: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith(".")) throw new Error(`bad artifact name ${JSON.stringify(name)}`);
    return path.join(this.dir, "artifacts", name);
  }

  writeArtifact(name: string, data: Uint8Array | string): string {
    const p = this.artifactPath(name);
    writeFileAtomic(p, data);
    return p;
  }

  readArtifact(name: string): Buffer | null {
    const p = this.artifactPath(name);
    return fs.existsSync(p) ? fs.readFileSync(p) : null;
  }

  /**
   * The artifact `name`, decoded, if the run holds it; else `compute()`'s value, kept as that artifact
   * first. What a run trains once and reads back on resume (a tokenizer, a classifier) goes through here.
   */
  async memo<T>(name: string, codec: Codec<T>, compute: () => T | Promise<T>): Promise<T> {
    const file = this.artifactPath(name);
    const stored = readStoredArtifact(this.dir, name, codec);
    if (stored !== null) return stored;
    const value = await compute();
    writeFileAtomic(file, codec.encode(value));
    return value;
  }

  /** Persists the synthetic set sampled from model `iteration` (before the record that finishes it). */
  writeSynthetic<D>(iteration: number, codec: Codec<D>, data: D): string {
    return this.writeArtifact(syntheticArtifact(iteration), codec.encode(data));
  }

  /** The synthetic set sampled from model `iteration`, or null if the run holds none. */
  readSynthetic<D>(iteration: number, codec: Codec<D>): D | null {
    return readStoredSynthetic(this.dir, iteration, codec);
  }

  get done(): boolean {
    return fs.existsSync(path.join(this.dir, "done.json"));
  }

  /** Summary written by `finish`, or null while the run is incomplete. */
  summary<T = unknown>(): T | null {
    const p = path.join(this.dir, "done.json");
    return fs.existsSync(p) ? (readJson(p) as T) : null;
  }

  finish(summary: unknown): void {
    writeFileAtomic(path.join(this.dir, "done.json"), JSON.stringify(summary, finiteOnly));
    this.close();
  }

  /**
   * Two processes appending to one run would interleave records; the lock file names the owner and is
   * taken over only when that process is gone.
   */
  lock(): void {
    const lockPath = path.join(this.dir, "lock");
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(lockPath, String(process.pid), { flag: "wx" });
        this.locked = true;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        const owner = Number(fs.readFileSync(lockPath, "utf8"));
        if (owner === process.pid || !processAlive(owner)) {
          fs.rmSync(lockPath, { force: true });
          continue;
        }
        throw new RunInUseError(this.dir, owner);
      }
    }
  }

  close(): void {
    if (this.locked) fs.rmSync(path.join(this.dir, "lock"), { force: true });
    this.locked = false;
  }
}

/** Another live process holds a run's lock. */
export class RunInUseError extends Error {
  constructor(
    readonly dir: string,
    readonly owner: number,
  ) {
    super(`run ${dir} is in use by process ${owner}; wait for it or stop it`);
    this.name = "RunInUseError";
  }
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readJson(p: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(p, "utf8"));
  } catch (e) {
    throw new DataError(p, `cannot be read as JSON (${(e as Error).message}); the run directory is corrupt`);
  }
}

function finiteOnly(_key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) throw new Error(`refusing to store non-finite number ${value}`);
  return value;
}

let tmpCounter = 0;

/** Writes a file so that readers see either the old or the new content, never a partial one. */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${tmpCounter++}`;
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** JSON with object keys sorted at every level, so equal configs hash equally. */
export function canonicalJson(value: unknown, root = "config"): string {
  return JSON.stringify(sortKeys(value, root));
}

function sortKeys(value: unknown, where: string): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) throw new ConfigError(where, `non-finite number ${value}`);
  if (value === undefined || typeof value === "function") throw new ConfigError(where, "cannot be stored in a run config");
  if (Array.isArray(value)) return value.map((v, i) => sortKeys(v, `${where}[${i}]`));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v, `${where}.${k}`);
    }
    return out;
  }
  return value;
}

/** `run.memo(name, codec, compute)`, or just `compute()` when there is no run to keep it in. */
export function memo<T>(run: Run | null, name: string, codec: Codec<T>, compute: () => T | Promise<T>): Promise<T> {
  return run ? run.memo(name, codec, compute) : Promise.resolve(compute());
}

/** What the store needs of a modality's codec to keep its synthetic sets. */
export interface Codec<D> {
  encode(data: D): Uint8Array;
  decode(bytes: Uint8Array): D;
}

/** The artifact name of model `iteration`'s checkpoint (safetensors). */
export function modelArtifact(iteration: number): string {
  return `model-${iteration}.safetensors`;
}

/** The artifact name of the synthetic set sampled from model `iteration`: the one place it is spelled. */
export function syntheticArtifact(iteration: number): string {
  return `synthetic-${iteration}.bin`;
}

/**
 * The synthetic set of model `iteration` in the run directory `runDir` (notebooks read finished runs
 * by directory), decoded, or null if it holds none; a file that does not decode is a DataError naming it.
 */
export function readStoredSynthetic<D>(runDir: string, iteration: number, codec: Codec<D>): D | null {
  return readStoredArtifact(runDir, syntheticArtifact(iteration), codec);
}

/** The artifact `name` of the run directory `runDir`, decoded, or null if it holds none; one that does not decode is a DataError naming it. */
export function readStoredArtifact<D>(runDir: string, name: string, codec: Codec<D>): D | null {
  const file = path.join(runDir, "artifacts", name);
  if (!fs.existsSync(file)) return null;
  try {
    return codec.decode(fs.readFileSync(file));
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(file, `does not decode: ${(e as Error).message}`);
  }
}
