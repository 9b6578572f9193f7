#!/usr/bin/env node
// plotly.js-dist ships only an unminified 11 MB bundle; every notebook inlines plotly.js once (so figures
// render offline in JupyterLab and in the HTML report), so minify it once at build time.
const fs = require("node:fs");
const path = require("node:path");
const root = path.resolve(__dirname, "..");
const src = require.resolve("plotly.js-dist/plotly.js", { paths: [root] });
const dst = path.join(root, "dist", "vendor", "plotly.min.js");
if (fs.existsSync(dst) && fs.statSync(dst).mtimeMs >= fs.statSync(src).mtimeMs) process.exit(0);
const { transformSync } = require("esbuild");
const { code } = transformSync(fs.readFileSync(src, "utf8"), { minify: true, legalComments: "none", target: "es2020" });
fs.mkdirSync(path.dirname(dst), { recursive: true });
fs.writeFileSync(dst + ".tmp", code);
fs.renameSync(dst + ".tmp", dst);
console.log(`minified plotly.js → ${path.relative(root, dst)} (${(code.length / 2 ** 20).toFixed(1)} MiB)`);
