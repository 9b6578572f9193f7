import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { packageRoot } from "../src/environment";

const root = packageRoot();
const nodeModules = path.join(root, "node_modules");

/** Every package.json under node_modules (following nested node_modules, scoped packages and symlinks once). */
function findPackages(dir: string, out: { dir: string; name: string; version: string }[], seen = new Set<string>()): void {
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch {
    return;
  }
  if (seen.has(real)) return;
  seen.add(real);
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    const full = path.join(dir, e.name);
    if (!(e.isDirectory() || e.isSymbolicLink())) continue;
    if (e.name.startsWith("@")) {
      findPackages(full, out, seen);
      continue;
    }
    const pkgFile = path.join(full, "package.json");
    if (fs.existsSync(pkgFile)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(pkgFile, "utf8")) as { name?: string; version?: string };
        if (pkg.name) out.push({ dir: full, name: pkg.name, version: pkg.version ?? "" });
      } catch {
        // not a package (a fixture); ignore
      }
    }
    const nested = path.join(full, "node_modules");
    if (fs.existsSync(nested)) findPackages(nested, out, seen);
  }
}

const packages: { dir: string; name: string; version: string }[] = [];
findPackages(nodeModules, packages);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "collapse-deps-test-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("node_modules holds exactly one copy of @tensorflow/tfjs-core", () => {
  assert.ok(packages.length > 50, `only ${packages.length} packages found under ${nodeModules}`);
  const cores = packages.filter((p) => p.name === "@tensorflow/tfjs-core");
  assert.equal(cores.length, 1, `copies of @tensorflow/tfjs-core: ${cores.map((p) => `${path.relative(root, p.dir)}@${p.version}`).join(", ")}`);
  assert.equal(cores[0].version, "4.22.0");
  // and it is the copy both tfjs and danfojs-node resolve
  const tfjsCore = require.resolve("@tensorflow/tfjs-core/package.json", { paths: [path.dirname(require.resolve("@tensorflow/tfjs"))] });
  const danfoDir = path.dirname(require.resolve("danfojs-node/package.json"));
  const danfoCore = require.resolve("@tensorflow/tfjs-core/package.json", { paths: [danfoDir] });
  assert.equal(fs.realpathSync(tfjsCore), fs.realpathSync(path.join(cores[0].dir, "package.json")));
  assert.equal(fs.realpathSync(danfoCore), fs.realpathSync(path.join(cores[0].dir, "package.json")));
  // and so does each native package that scripts/setup-native.sh installed
  for (const pkg of ["@tensorflow/tfjs-node", "@tensorflow/tfjs-node-gpu"]) {
    const found = packages.find((p) => p.name === pkg);
    if (!found) continue;
    const nativeCore = require.resolve("@tensorflow/tfjs-core/package.json", { paths: [found.dir] });
    assert.equal(fs.realpathSync(nativeCore), fs.realpathSync(path.join(cores[0].dir, "package.json")), `${pkg} resolves the one tfjs-core`);
  }
});

test("danfojs-node loads, builds a DataFrame and writes CSV", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dfd = require("danfojs-node");
  const df = new dfd.DataFrame({ iteration: [1, 2, 3], testError: [0.5, 0.25, 0.125], strategy: ["replace", "accumulate", "augment"] });
  assert.deepEqual(df.shape, [3, 3]);
  assert.deepEqual(df.columns, ["iteration", "testError", "strategy"]);
  assert.deepEqual(df["testError"].values, [0.5, 0.25, 0.125]);
  assert.equal(df["testError"].sum(), 0.875);
  const csv = dfd.toCSV(df) as string;
  assert.equal(csv, "iteration,testError,strategy\n1,0.5,replace\n2,0.25,accumulate\n3,0.125,augment\n");
  const file = path.join(tmp, "out.csv");
  dfd.toCSV(df, { filePath: file });
  assert.equal(fs.readFileSync(file, "utf8"), csv);
});

test('require("@tensorflow/tfjs") and danfojs share one tfjs engine', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tf = require("@tensorflow/tfjs");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dfd = require("danfojs-node");
  assert.equal(tf.version["tfjs-core"], "4.22.0");
  // danfojs-node 1.2.0 re-exports its tensorflow module as `dfd.tensorflow`.
  assert.ok(dfd.tensorflow, "danfojs-node exposes its tensorflow module");
  assert.equal(dfd.tensorflow.engine(), tf.engine(), "danfojs and tfjs must share the engine (one tfjs-core)");
  assert.equal(dfd.tensorflow.version_core ?? dfd.tensorflow.version?.["tfjs-core"], "4.22.0");
  // a tensor made by one is usable by the other
  const t = tf.tensor1d([1, 2, 3]);
  const s = dfd.tensorflow.sum(t);
  assert.equal(s.dataSync()[0], 6);
  const df = new dfd.DataFrame({ a: [1, 2], b: [3, 4] });
  const tensor = df.tensor;
  assert.ok(tensor instanceof tf.Tensor, "DataFrame.tensor is a tf.Tensor of the shared core");
  assert.deepEqual(tensor.arraySync(), [
    [1, 3],
    [2, 4],
  ]);
  tf.dispose([t, s]);
});
