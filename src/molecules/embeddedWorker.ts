/**
 * Child-process entry of generateInFreshProcess: generates one embedded set and sends it back encoded.
 * openchemlib keeps what it learnt about ring systems across molecules, so the conformers of a set
 * depend on what the process generated before; a fresh process makes a set depend on its spec alone.
 */
import { serializeError } from "../errors";
import { type EmbeddedSpec, type EmbeddedWorkerMessage, generateEmbeddedConformations } from "./embedded";
import { conformationCodec } from "./types";

process.on("disconnect", () => process.exit(130));

process.once("message", (spec: EmbeddedSpec) => {
  generateEmbeddedConformations(spec, (p) => process.send?.({ type: "progress", ...p } satisfies EmbeddedWorkerMessage)).then(
    (set) => process.send?.({ type: "done", bytes: conformationCodec.encode(set) } satisfies EmbeddedWorkerMessage, () => process.exit(0)),
    (e: unknown) => process.send?.({ type: "error", error: serializeError(e) } satisfies EmbeddedWorkerMessage, () => process.exit(1)),
  );
});
