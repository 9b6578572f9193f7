import { PROFILES } from "../collapse/profiles";
import { profileRows } from "../collapse/spec";
import { modalityNames, modalitySpec } from "../modalities";
import { COMMON_FLAGS, list, parse, usageFailure } from "./args";

export const PROFILES_HELP = `collapse profiles — every modality's base config at each profile, side by side

Usage: collapse profiles [--only NAME[,NAME]] [--json]

Each modality declares its ${PROFILES.slice(0, -1).join(", ")} and ${PROFILES[PROFILES.length - 1]} configs once, in its spec; this
prints them field by field (nested fields as dotted paths; a blank cell: the profile leaves the field
to its default). The CLI flags, sweeps, \`collapse reproduce\` and the notebooks all start from these
configs.

Flags:
  --only NAMES    modalities to show (default all registered)
  --json          the configs themselves, as JSON: {modality: {profile: config}}
  -h, --help      this help`;

export async function profilesCommand(args: string[]): Promise<number> {
  const v = parse(args, { only: { type: "string" }, json: COMMON_FLAGS.json, help: COMMON_FLAGS.help });
  if (v.help) {
    console.log(PROFILES_HELP);
    return 0;
  }
  const names = v.only ? list("only", v.only, "") : modalityNames();
  const specs = names.map((n) => modalitySpec(n) ?? usageFailure(`--only: unknown modality ${JSON.stringify(n)} (known: ${modalityNames().join(", ")})`));
  if (v.json) {
    console.log(JSON.stringify(Object.fromEntries(specs.map((s) => [s.name, s.profiles])), null, 2));
    return 0;
  }
  for (const spec of specs) {
    const rows = profileRows(spec);
    const header = ["field", ...PROFILES];
    const widths = header.map((h) => Math.max(h.length, ...rows.map((r) => (r[h] ?? "").length)));
    const line = (cells: string[]) => `  ${cells.map((c, k) => c.padEnd(widths[k])).join("  ")}`.trimEnd();
    console.log(`${spec.name} — ${spec.brief}`);
    console.log(line(header));
    for (const r of rows) console.log(line(header.map((h) => r[h] ?? "")));
    console.log("");
  }
  return 0;
}
