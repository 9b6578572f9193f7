import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

let cachedRoot: string | null = null;

/** The kit's root directory (the one holding its package.json), wherever this file was loaded from. */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, "utf8")).name === "collapse-kit") return (cachedRoot = dir);
    if (path.dirname(dir) === dir) return (cachedRoot = process.cwd());
  }
}

export function kitVersion(): string {
  return JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")).version as string;
}

/** What a run records about where it ran. Modalities that use tfjs add their backend. */
export function environmentInfo(): Record<string, unknown> {
  return {
    kit: kitVersion(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    host: os.hostname(),
  };
}
