#!/usr/bin/env node
// Writes the embedded molecule sets of the smoke and quick profiles into data/molecules, where the kit
// ships them (generating the quick set with openchemlib takes minutes). Run after changing the
// generator or the profiles' molecule settings: npm run data:molecules
const path = require("node:path");
const { embeddedSpecOf, moleculeBaseConfig } = require("../dist/src/index");
const { embeddedConformations } = require("../dist/src/molecules/embedded");

(async () => {
  for (const profile of ["smoke", "quick"]) {
    const spec = embeddedSpecOf(moleculeBaseConfig(profile));
    // cacheDir/molecules/<cache name> is data/molecules/<cache name>: the shipped layout
    const r = await embeddedConformations(spec, { cacheDir: path.join(__dirname, "..", "data"), onStatus: (m) => console.log(m) });
    console.log(`${profile}: ${r.file} (${r.source}${r.source === "generated" ? `, ${r.seconds.toFixed(0)} s` : ""})`);
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
