import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { packageRoot } from "../src/environment";
import { tempDir } from "./helpers";

/**
 * Executes every notebook headlessly through the tslab kernel at the smoke profile, exactly as
 * `bash scripts/reproduce.sh --profile smoke` does, and checks the executed notebooks, the figure
 * files, their static export and the combined report.
 */
const ROOT = packageRoot();
const PYTHON = path.join(ROOT, ".venv", "bin", "python");
const skip = process.env.COLLAPSE_SKIP_NOTEBOOK_TESTS === "1" ? "COLLAPSE_SKIP_NOTEBOOK_TESTS=1" : false;

/** Named figures each notebook must produce (saved as <name>.json through nb.show/nb.live). */
const EXPECTED_FIGURES: Record<string, string[]> = {
  "section2_linear_regression.ipynb": ["figure2", "figure9", "figure2-strategies", "figure2-normalized", "section5-linear-augment"],
  "section3_1_language_models.ipynb": ["figure3", "figure4-gpt2-smoke", "figure4-llama2-smoke", "section3_1-text-measures", "section3_1-tails"],
  "section3_1_language_models_appendix.ipynb": ["figure10", "figure11", "section3_1-controls"],
  "section3_2_molecules.ipynb": ["figure5", "section3_2-coverage", "section3_2-matching", "section3_2-conformers", "section3_2-controls"],
  "section3_3_vae.ipynb": ["figure6", "section3_3-attributes", "section3_3-fidelity", "section3_3-controls"],
  "section5_augmentation.ipynb": ["figure8-gaussian", "figure8-vae"],
  "beyond_the_paper.ipynb": ["curation-linear", "curation-lm", "curation-vae", "curation-molecules", "curation-gaussian", "curation-kde", "proportion-linear", "proportion-lm", "proportion-vae", "proportion-molecules", "proportion-gaussian", "proportion-kde", "beyond-compute-vae", "thrive-linear", "thrive-gaussian", "beyond-kde-bandwidth"],
};

function py(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(PYTHON, args, { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env }, timeout: 600_000 });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

test("every notebook runs at the smoke profile with no errors and produces its figures", { skip, timeout: 900_000 }, () => {
  assert.ok(fs.existsSync(PYTHON), `no ${PYTHON}: run \`bash scripts/setup-python.sh\` (scripts/test.sh does)`);
  const notebooks = fs.readdirSync(path.join(ROOT, "notebooks")).filter((f) => f.endsWith(".ipynb")).sort();
  assert.deepEqual(notebooks, Object.keys(EXPECTED_FIGURES).sort(), "every notebook has its expected figures listed here");
  const out = tempDir("nb");

  const run = py(["scripts/run_notebooks.py", "--out", out, "--profile", "smoke"]);
  assert.equal(run.code, 0, run.out);
  const summary = JSON.parse(fs.readFileSync(path.join(out, "notebooks", "summary.json"), "utf8"));
  assert.equal(summary.profile, "smoke");

  for (const nbName of notebooks) {
    const executed = JSON.parse(fs.readFileSync(path.join(out, "notebooks", nbName), "utf8"));
    const outputs = executed.cells.flatMap((c: { outputs?: unknown[] }) => c.outputs ?? []) as { output_type: string; name?: string; text?: string | string[] }[];
    assert.equal(outputs.filter((o) => o.output_type === "error").length, 0, `${nbName}: error outputs`);
    // tslab reports exceptions on stderr only.
    const stderr = outputs.filter((o) => o.output_type === "stream" && o.name === "stderr").map((o) => [o.text].flat().join(""));
    assert.ok(!stderr.some((t) => /Error|Exception/.test(t)), `${nbName}: stderr ${stderr.join("\n")}`);
    for (const cell of executed.cells) if (cell.cell_type === "code") assert.ok(cell.execution_count !== null, `${nbName}: a cell did not run`);
    // The neural notebooks plan their runs first (collapse plan's cost model) and set the time taken beside it.
    if (/section3|section5/.test(nbName)) {
      const stdout = outputs.filter((o) => o.output_type === "stream" && o.name === "stdout").map((o) => [o.text].flat().join("")).join("");
      assert.match(stdout, /^planned: \d+ model fits, .* ≈ \S+ here on \d+ worker\(s\)/m, `${nbName}: the planned time`);
      assert.match(stdout, /^took \S+; planned \S+ \(taken \/ planned = \d+\.\d+\)$/m, `${nbName}: the time taken beside the planned`);
    }
    const html = outputs.filter((o) => o.output_type === "display_data").map((o) => JSON.stringify(o));
    assert.equal(html.filter((h) => h.includes("collapse-kit-plotlyjs")).length, 1, `${nbName}: plotly.js embedded once`);
    for (const fig of EXPECTED_FIGURES[nbName]) {
      const file = path.join(out, "figures", `${fig}.json`);
      assert.ok(fs.existsSync(file), `${nbName}: figure ${fig} saved`);
      assert.ok(JSON.parse(fs.readFileSync(file, "utf8")).data.length > 0, `${fig} has traces`);
    }
    if (nbName.startsWith("section3_3")) {
      for (const png of ["figure7-1-replace-model-3.png", "figure12-1-real-test-images.png"]) assert.ok(fs.existsSync(path.join(out, "figures", png)), `${nbName}: ${png}`);
    }
    if (nbName.includes("appendix")) {
      const csv = fs.readFileSync(path.join(out, "figures", "table2.csv"), "utf8").trim().split("\n");
      assert.match(csv[0], /^model,t=1,t=2 acc,/, "Table 2 saved as CSV");
      assert.equal(csv.length, 1 + 5, "Table 2: GPT-2, low temperature, small, small + epochs, one Llama-2 at smoke");
      assert.match(fs.readFileSync(path.join(out, "figures", "table2.md"), "utf8"), /^\| model \| t=1 \|/);
    }
    const entry = summary.notebooks[nbName];
    assert.equal(entry?.status, "ok", `summary.json: ${nbName}`);
    // The live figure is one more display than the named ones.
    assert.ok(entry.figures >= EXPECTED_FIGURES[nbName].length, `${nbName}: ${entry.figures} figure outputs`);
  }

  const exported = py(["scripts/export_figures.py", path.join(out, "figures"), "--formats", "png,svg,pdf", "--only", "figure2"]);
  assert.equal(exported.code, 0, exported.out);
  for (const ext of ["png", "svg", "pdf"]) {
    const f = path.join(out, "figures", `figure2.${ext}`);
    assert.ok(fs.statSync(f).size > 1000, `figure2.${ext} written`);
  }
  const png = fs.readFileSync(path.join(out, "figures", "figure2.png"));
  assert.equal(png.subarray(1, 4).toString(), "PNG");

  const report = py(["scripts/build_report.py", "--out", out]);
  assert.equal(report.code, 0, report.out);
  const page = fs.readFileSync(path.join(out, "report.html"), "utf8");
  assert.equal(page.split('id="collapse-kit-plotlyjs"').length - 1, 1, "one plotly.js in the report");
  assert.ok(page.includes("Figure 2"), "report includes the §2 notebook");
});
