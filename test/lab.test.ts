import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { packageRoot } from "../src/environment";
import { tempDir } from "./helpers";
import { startLab } from "./labServer";

/**
 * scripts/lab.sh starts JupyterLab from the checkout's .venv on 127.0.0.1, with the kit's TypeScript
 * kernel as its only kernel, and writes nothing to the user's home (run here with an empty HOME).
 */
const ROOT = packageRoot();
const STAMP = path.join(ROOT, ".venv", ".requirements-lab.txt.sha256");
const skip = !fs.existsSync(STAMP) ? `JupyterLab not set up in .venv (${STAMP} missing): run bash scripts/setup-lab.sh (scripts/test.sh does)` : false;

test("scripts/lab.sh serves JupyterLab on 127.0.0.1 with the kit's kernel only, and leaves HOME alone", { skip, timeout: 180_000 }, async () => {
  const home = tempDir("lab-home");
  const lab = await startLab({ HOME: home });
  try {
    const status = await lab.get("/api/status");
    assert.equal(status.status, 200, lab.log());
    assert.equal((await lab.get("/api/status", false)).status, 403, "the API needs the token");

    const specs = (await lab.get("/api/kernelspecs")).body as { default: string; kernelspecs: Record<string, { spec: { display_name: string; argv: string[] } }> };
    assert.deepEqual(Object.keys(specs.kernelspecs), ["tslab"], "the kit's kernel is the only one (ipykernel's python3 hidden)");
    assert.equal(specs.default, "tslab");
    const spec = specs.kernelspecs.tslab.spec;
    assert.equal(spec.display_name, "TypeScript (collapse-kit)");
    assert.equal(spec.argv[1], path.join(ROOT, "bin", "collapse-kernel.js"), "the kit's kernel entry point, by absolute path");

    // Serves notebooks/ (the notebooks import ../dist/src), and says where it listens.
    const contents = (await lab.get("/api/contents")).body as { content: { name: string }[] };
    assert.ok(contents.content.some((c) => c.name === "section2_linear_regression.ipynb"), "serves notebooks/");
    assert.match(lab.log(), new RegExp(`http://127\\.0\\.0\\.1:${lab.port}/lab`), "listens on 127.0.0.1 at the asked port");
    assert.match(lab.log(), /lab: kernel tslab \(TypeScript \(collapse-kit\)\)/, "lab.sh checked jupyter kernelspec list");
  } finally {
    await lab.stop();
  }
  assert.deepEqual(fs.readdirSync(home), [], "nothing written to HOME (~/.jupyter, ~/.local/share/jupyter, ~/.ipython, ~/.npm)");
});
