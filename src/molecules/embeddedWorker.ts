/**
 * Child-process entry of generateInFreshProcess: generates one embedded set and sends it back encoded.
 * openchemlib keeps what it learnt about ring systems across molecules, so the conformers of a set
 * depend on what the process generated before; a fresh process makes a set depend on its spec alone.
 */
import { type SerializedError, serializeError } from "../errors";
import { type EmbeddedSpec, generateEmbeddedConformations } from "./embedded";
import { conformationCodec } from "./types";

export type EmbeddedWorkerMessage =
  | { type: "progress"; molecules: number; target: number; attempts: number }
  | { type: "done"; bytes: Uint8Array }
  | { type: "error"; error: SerializedError };

process.on("disconnect", () => process.exit(130));

process.once("message", (spec: EmbeddedSpec) => {
  generateEmbeddedConformations(spec, (p) => process.send?.({ type: "progress", ...p } satisfies EmbeddedWorkerMessage)).then(
    (set) => process.send?.({ type: "done", bytes: conformationCodec.encode(set) } satisfies EmbeddedWorkerMessage, () => process.exit(0)),
    (e: unknown) => process.send?.({ type: "error", error: serializeError(e) } satisfies EmbeddedWorkerMessage, () => process.exit(1)),
  );
});
