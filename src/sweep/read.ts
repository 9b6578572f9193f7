import * as fs from "node:fs";
import * as path from "node:path";
import type { IterationRecord } from "../collapse/loop";
import { RunStore } from "../store/runStore";
import { sweepModality } from "./commands";
import { expandSweep, readSweepFile } from "./spec";
import { entryRecords } from "./status";
import { SWEEP_FILE, type SweepManifest, loadManifest, manifestOf, sweepDirOf } from "./sweepDir";

export interface SweepSequence {
  index: number;
  /** Grid field → this sequence's value. */
  values: Record<string, unknown>;
  config: Record<string, unknown>;
  /** The iterations finished so far, in order (all of them once `finished`). */
  records: IterationRecord[];
  finished: boolean;
  runDir: string | null;
}

export interface SweepResults {
  name: string;
  command: SweepManifest["command"];
  profile: string;
  /** The sweep's directory in the store (it may not exist yet, for a sweep file never run). */
  dir: string;
  sequences: SweepSequence[];
}

/**
 * A sweep's sequences with their results so far, for a notebook to plot: `source` is a sweep directory
 * (<runs>/sweeps/<name>-<hash>, whose run store is the one it lies in) or a sweep file (YAML or JSON,
 * expanded and checked as `collapse sweep` does; its store is `opts.store`, else $COLLAPSE_RUNS_DIR).
 */
export function readSweep(source: string, opts: { store?: RunStore } = {}): SweepResults {
  let manifest: SweepManifest;
  let dir: string;
  let store: RunStore;
  if (fs.existsSync(path.join(source, SWEEP_FILE))) {
    dir = path.resolve(source);
    manifest = loadManifest(dir);
    store = opts.store ?? new RunStore(path.dirname(path.dirname(dir)));
  } else {
    const spec = readSweepFile(source);
    const entries = expandSweep(spec);
    store = opts.store ?? RunStore.fromEnv();
    dir = sweepDirOf(store, spec, entries);
    manifest = manifestOf(spec, entries);
  }
  const cmd = sweepModality(manifest.command);
  const sequences = manifest.entries.map((entry) => {
    const { runDir, records } = entryRecords(cmd, store, entry);
    return { index: entry.index, values: entry.values, config: entry.config, records, finished: records.length >= entry.config.iterations, runDir };
  });
  return { name: manifest.name, command: manifest.command, profile: manifest.profile, dir, sequences };
}
