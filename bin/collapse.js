#!/usr/bin/env node
"use strict";
const path = require("node:path");
const fs = require("node:fs");
const entry = path.join(__dirname, "..", "dist", "src", "cli.js");
if (!fs.existsSync(entry)) {
  console.error("collapse: the kit is not built yet; run `npm run build` (or `npm ci`) in " + path.dirname(__dirname));
  process.exit(2);
}
require(entry).main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
