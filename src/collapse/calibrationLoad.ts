/**
 * Child-process entry of a plan's timing: times a spec's training steps over and over until killed,
 * so that the steps timed in the parent share the machine as the run's parallel workers will (on a
 * CPU, two processes' steps each run slower than one alone: memory bandwidth and caches are shared).
 */
import type { SequenceEntry } from "./sequenceProtocol";
import { specAt } from "./spec";

export interface CalibrationLoadJob {
  entry: SequenceEntry;
  config: unknown;
}

process.on("disconnect", () => process.exit(0));

process.once("message", (job: CalibrationLoadJob) => {
  void (async () => {
    const spec = specAt(job.entry);
    const model = spec.plan;
    if (!model) return process.exit(1);
    if (spec.tensors) await (await import("../backend")).selectBackend();
    process.send?.("ready");
    for (;;) await model.calibrate(job.config as never, { stepsOnly: true });
  })().catch(() => process.exit(1));
});
