#!/usr/bin/env node
"use strict";
// The kit's Jupyter kernel: tslab's TypeScript kernel (the same executor, converter and protocol)
// with three behaviours a researcher expects from a Python kernel, which tslab 1.0.22 lacks:
//
// 1. Kernel > Interrupt stops the kit's run. tslab answers SIGINT by abandoning the cell's promise,
//    which leaves the run training in the background. Here SIGINT first aborts the kit's runs
//    (dist/src/interrupt.js); the cell then ends by their InterruptedError once the workers are
//    stopped. Only when no kit run is active (or it has not ended 5 s later) does tslab's own
//    interrupt run.
// 2. Errors the kit raises for bad input (ConfigError, DataError) and interrupts print one line,
//    not tslab's stack trace; other errors keep their stack.
// 3. The status stays "busy" while a cell runs: tslab publishes busy/idle around every shell
//    message, so a completion or inspection request during a long cell used to show "Idle".
//
// Registered by scripts/setup-python.sh as the kernelspec "tslab" ("TypeScript (collapse-kit)").
//   node bin/collapse-kernel.js --config-path CONNECTION_FILE
const path = require("node:path");

const configAt = process.argv.indexOf("--config-path");
if (configAt < 0 || !process.argv[configAt + 1]) {
  console.error("collapse-kernel: usage: collapse-kernel.js --config-path CONNECTION_FILE (Jupyter passes it)");
  process.exit(2);
}
process.env.COLLAPSE_KERNEL = "1";

const tslabDist = path.dirname(require.resolve("tslab/dist/main.js", { paths: [path.join(__dirname, "..")] }));
const executorModule = require(path.join(tslabDist, "executor.js"));
const jupyterModule = require(path.join(tslabDist, "jupyter.js"));
const interruptPath = path.join(__dirname, "..", "dist", "src", "interrupt.js");

/** The kit's interrupt registry: the same module instance the notebook's `../dist/src` loaded. */
function kitInterrupt() {
  try {
    return require(interruptPath);
  } catch {
    return null; // the kit is not built: no kit run can be active
  }
}

const ONE_LINE = new Set(["ConfigError", "DataError", "UsageError", "InterruptedError"]);

function shortError(value) {
  return value instanceof Error && ONE_LINE.has(value.name) ? `${value.name}: ${value.message}` : value;
}

const createExecutor = executorModule.createExecutor;
executorModule.createExecutor = (rootDir, convs, console) => {
  const quiet = { ...console, error: (...args) => console.error(...args.map(shortError)) };
  const executor = createExecutor(rootDir, convs, quiet);
  let cells = 0;
  let running = null; // the id of the cell being executed, so a late fallback never hits the next one
  const execute = executor.execute;
  executor.execute = async (src) => {
    const id = ++cells;
    running = id;
    try {
      return await execute(src);
    } finally {
      if (running === id) running = null;
    }
  };
  const tslabInterrupt = executor.interrupt;
  executor.interrupt = () => {
    const kit = kitInterrupt();
    const stopped = kit ? kit.interruptRuns() : 0;
    if (stopped === 0) return tslabInterrupt();
    const cell = running;
    setTimeout(() => {
      if (cell !== null && running === cell) tslabInterrupt(); // the run did not end by itself: abandon the cell
    }, 5000).unref();
  };
  return executor;
};

const publishStatus = jupyterModule.ZmqServer.prototype.publishStatus;
const inFlight = [];
jupyterModule.ZmqServer.prototype.publishStatus = function (status, parent) {
  publishStatus.call(this, status, parent);
  if (status === "busy") inFlight.push(parent);
  else if (status === "idle") {
    const at = inFlight.indexOf(parent);
    if (at >= 0) inFlight.splice(at, 1);
    // Another request (the running cell) is still being handled: the kernel is busy again.
    if (inFlight.length > 0) publishStatus.call(this, "busy", inFlight[0]);
  }
};

require(path.join(tslabDist, "main.js")).startKernel({ configPath: process.argv[configAt + 1], enableFindLocal: false });
