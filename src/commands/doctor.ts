import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { availableBackends, backendInfo, selectBackend } from "../backend";
import { environmentInfo } from "../environment";
import { RunStore } from "../store/runStore";
import { COMMON_FLAGS, parse } from "./args";

export const DOCTOR_HELP = `collapse doctor — what this machine gives the kit: one screen to paste into a bug report

Usage: collapse doctor [--runs-dir DIR] [--json]

Checks, without training anything: the kit, Node and the machine; which tfjs backends load and the
one a run would use (and whether TensorFlow sees a GPU); the CUDA and cuDNN libraries the dynamic
linker finds; threads; free memory and free disk where the run store is; whether Slurm answers.

Flags:
  --runs-dir DIR   run store to check (default $COLLAPSE_RUNS_DIR or runs/)
  --json           the same as JSON
  -h, --help       this help`;

export interface DoctorReport {
  kit: Record<string, unknown>;
  backends: { name: string; available: boolean; detail?: string; reason?: string }[];
  selected: Record<string, unknown>;
  gpu: { tensorflowSeesGpu: boolean; cudaLibraries: string[]; nvidiaSmi: string | null };
  threads: { cores: number; intraOpThreads: string | null; interOpThreads: string | null };
  memory: { totalGiB: number; freeGiB: number };
  runStore: { root: string; exists: boolean; freeDiskGiB: number | null };
  slurm: { sinfo: string | null };
}

/** One line of `cmd args` (its first lines of stdout), or null when it is not there or fails. */
function probe(cmd: string, args: string[], lines = 3): string | null {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 15_000 });
  if (r.error || r.status !== 0) return null;
  return r.stdout.trim().split("\n").slice(0, lines).join(" | ") || null;
}

/** The CUDA runtime, cuBLAS and cuDNN libraries the dynamic linker knows (ldconfig -p). */
function cudaLibraries(): string[] {
  const r = spawnSync("ldconfig", ["-p"], { encoding: "utf8", timeout: 15_000 });
  if (r.error || r.status !== 0) return [];
  return [...new Set(r.stdout.split("\n").flatMap((l) => /\b(libcudart|libcublas|libcudnn)\.so[.\d]*/.exec(l)?.[0] ?? []))].sort();
}

function freeDiskGiB(dir: string): number | null {
  // The nearest existing parent: a run store not made yet lands there.
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (fs.existsSync(d)) {
      const s = fs.statfsSync(d);
      return (s.bavail * s.bsize) / 2 ** 30;
    }
    if (path.dirname(d) === d) return null;
  }
}

export async function doctorReport(store: RunStore): Promise<DoctorReport> {
  const backends = await availableBackends();
  const selected = await selectBackend();
  const gpu = selected.gpu === true;
  return {
    kit: environmentInfo(),
    backends,
    selected: { ...backendInfo(), gpu },
    gpu: { tensorflowSeesGpu: gpu, cudaLibraries: cudaLibraries(), nvidiaSmi: probe("nvidia-smi", ["--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"]) },
    threads: { cores: os.availableParallelism(), intraOpThreads: process.env.TF_NUM_INTRAOP_THREADS ?? null, interOpThreads: process.env.TF_NUM_INTEROP_THREADS ?? null },
    memory: { totalGiB: os.totalmem() / 2 ** 30, freeGiB: os.freemem() / 2 ** 30 },
    runStore: { root: store.root, exists: fs.existsSync(store.root), freeDiskGiB: freeDiskGiB(store.root) },
    slurm: { sinfo: probe("sinfo", ["-h", "-o", "%P %a %D %t"]) },
  };
}

export function formatDoctor(r: DoctorReport): string {
  const k = r.kit;
  const yes = (b: boolean) => (b ? "yes" : "no");
  const lines = [
    `collapse-kit ${k.kit} · Node ${k.node} · ${k.platform} · ${k.cpus} × ${k.cpuModel} · ${k.memoryGiB} GiB`,
    "backends:",
    ...r.backends.map((b) => `  ${b.name.padEnd(11)}${b.available ? `loads: ${b.detail ?? ""}` : `not available: ${b.reason ?? ""}`}`),
    `a run would use: ${r.selected.backend} (${r.selected.detail})${r.selected.compiledSteps !== undefined ? `; compiled steps: ${yes(r.selected.compiledSteps === true)}` : ""}`,
    `GPU: TensorFlow sees one: ${yes(r.gpu.tensorflowSeesGpu)}; nvidia-smi: ${r.gpu.nvidiaSmi ?? "not found"}; CUDA/cuDNN libraries: ${r.gpu.cudaLibraries.join(", ") || "none found"}`,
    `threads: ${r.threads.cores} cores; TF_NUM_INTRAOP_THREADS=${r.threads.intraOpThreads ?? "unset"}; the sequence runner starts one single-threaded process per core`,
    `memory: ${r.memory.freeGiB.toFixed(1)} of ${r.memory.totalGiB.toFixed(1)} GiB free`,
    `run store: ${r.runStore.root} (${r.runStore.exists ? "exists" : "not made yet"}); free disk there: ${r.runStore.freeDiskGiB === null ? "unknown" : `${r.runStore.freeDiskGiB.toFixed(1)} GiB`}`,
    `Slurm: ${r.slurm.sinfo ? `sinfo answers: ${r.slurm.sinfo}` : "sinfo not found or not answering (sweeps run here: --executor local)"}`,
  ];
  return lines.join("\n");
}

export async function doctorCommand(args: string[]): Promise<number> {
  const v = parse(args, { json: COMMON_FLAGS.json, help: COMMON_FLAGS.help, "runs-dir": COMMON_FLAGS["runs-dir"] });
  if (v.help) {
    console.log(DOCTOR_HELP);
    return 0;
  }
  const store = v["runs-dir"] ? new RunStore(path.resolve(v["runs-dir"])) : RunStore.fromEnv();
  const report = await doctorReport(store);
  console.log(v.json ? JSON.stringify(report, null, 2) : formatDoctor(report));
  return 0;
}
