import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { packageRoot } from "../environment";
import { type Figure, saveFigure } from "./plotly";

export type StaticFormat = "png" | "svg" | "pdf";

/**
 * The Python that has plotly + kaleido (static export needs a headless browser; kaleido 0.2.1 bundles
 * one in its wheel, so no browser download is needed): $COLLAPSE_PYTHON, else the project's .venv.
 */
export function exporterPython(): string {
  if (process.env.COLLAPSE_PYTHON) return process.env.COLLAPSE_PYTHON;
  const venv = path.join(packageRoot(), ".venv", process.platform === "win32" ? "Scripts/python.exe" : "bin/python");
  if (fs.existsSync(venv)) return venv;
  throw new Error(
    "static figure export needs Python with plotly 5.24.1 and kaleido 0.2.1: run `bash scripts/setup-python.sh` " +
      "(creates .venv/), or set COLLAPSE_PYTHON to an interpreter that has them",
  );
}

/** Writes `<dir>/<name>.{json,png,svg,pdf}`; returns the paths of the static files. */
export function exportFigure(fig: Figure, dir: string, name: string, formats: readonly StaticFormat[] = ["png", "svg", "pdf"]): string[] {
  saveFigure(fig, dir, name);
  exportFigureDir(dir, formats, [name]);
  return formats.map((f) => path.join(dir, `${name}.${f}`));
}

/** Exports every `<dir>/*.json` figure (or only `names`) in one exporter process. */
export function exportFigureDir(dir: string, formats: readonly StaticFormat[] = ["png", "svg", "pdf"], names?: readonly string[]): void {
  const script = path.join(packageRoot(), "scripts", "export_figures.py");
  const args = [script, dir, "--formats", formats.join(",")];
  if (names) args.push("--only", names.join(","));
  const r = spawnSync(exporterPython(), args, { encoding: "utf8" });
  if (r.error) throw new Error(`figure export could not start ${exporterPython()}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`figure export failed (exit ${r.status}):\n${r.stderr || r.stdout}`);
}
