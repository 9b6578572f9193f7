"""Drives the kit's Jupyter kernel (kernelspec "tslab" in .venv) the way JupyterLab does, over
jupyter_client, and prints one JSON object of what it saw. Run by test/kernel.test.ts.

Checks, each a field of the output:
- a long §2 Monte Carlo cell ends within seconds of an interrupt, with one short line of output;
- a cell training sequences in worker processes ends within seconds, and its workers are gone;
- the status stays busy while a cell runs, though another request was answered meanwhile;
- nothing of an interrupted run reaches the output after its cell has ended;
- a bad config prints its one-line message, not a stack trace.
"""
import json
import os
import sys
import time

from jupyter_client.manager import start_new_kernel

KIT = sys.argv[1]  # the checkout (notebooks import ../dist/src from notebooks/)
out = {}


def children(pid):
    """Process ids whose parent is pid (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


km, kc = start_new_kernel(kernel_name="tslab", cwd=os.path.join(KIT, "notebooks"))
pid = km.provisioner.process.pid


def drain(msg_id, until_idle=True, timeout=120):
    """iopub messages of one request until its idle status; returns (messages, seconds)."""
    started = time.time()
    seen = []
    while time.time() - started < timeout:
        try:
            m = kc.get_iopub_msg(timeout=1)
        except Exception:
            continue
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append(m)
        if until_idle and m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
    return seen, time.time() - started


def text_of(messages):
    parts = []
    for m in messages:
        if m["msg_type"] == "stream":
            parts.append(m["content"]["text"])
        elif m["msg_type"] == "error":
            parts.append("\n".join(m["content"].get("traceback", [])))
    return "".join(parts)


def run(code, timeout=300):
    msg_id = kc.execute(code)
    return drain(msg_id, timeout=timeout)


def interrupted(code, wait_s):
    """Starts `code`, interrupts it after wait_s seconds, returns (output text, seconds to idle)."""
    msg_id = kc.execute(code)
    time.sleep(wait_s)
    before = children(pid)
    km.interrupt_kernel()
    t0 = time.time()
    messages, _ = drain(msg_id, timeout=60)
    return text_of(messages), time.time() - t0, before


try:
    setup, _ = run('import * as tslab from "tslab";\nimport * as ck from "../dist/src";\nconst nb = ck.notebookDisplay(tslab);\nconsole.log("ready");')
    out["setup"] = text_of(setup).strip()

    # §2: a Monte Carlo far too long to finish (millions of repeats).
    text, seconds, _ = interrupted(
        'const r = await ck.runLinearExperimentLive(nb, ck.checkLinearConfig({ settings: [{ d: 10, T: 100, sigma2: 1 }], strategies: ["replace", "accumulate"], iterations: 50, seeds: 1000000 }), { store: null });',
        4,
    )
    out["linear"] = {"seconds": seconds, "output": text}

    # A cell that completes normally afterwards, and must not receive the interrupted run's output.
    time.sleep(0.5)  # tslab drops requests queued within 200 ms of a failed cell, as ipykernel does
    after, _ = run('console.log("next cell");')
    out["nextCell"] = text_of(after)
    out["nextCellMessages"] = sorted({m["msg_type"] for m in after})

    # §3: sequences in worker processes (VAE at smoke, long), interrupted mid-run.
    msg_id = kc.execute(
        'const vaeBase = ck.vaeBaseConfig("smoke");\n'
        'const store = new ck.RunStore(process.env.COLLAPSE_RUNS_DIR!);\n'
        'const runs = await ck.runSequencesLive(nb, ck.VAE, ["replace", "accumulate"].map((strategy) => ({ ...vaeBase, strategy, iterations: 300 } as ck.VaeSequenceConfig)), { store, parallel: 2, liveFigure: "Figure 6" });'
    )
    # While it runs, another request (as JupyterLab sends on focus or completion) is answered...
    time.sleep(6)
    kc.kernel_info()
    states = []
    deadline = time.time() + 2
    while time.time() < deadline:
        try:
            m = kc.get_iopub_msg(timeout=0.5)
            if m["msg_type"] == "status":
                states.append(m["content"]["execution_state"])
        except Exception:
            pass
    out["statusWhileRunning"] = states
    workers_before = children(pid)
    km.interrupt_kernel()
    t0 = time.time()
    messages, _ = drain(msg_id, timeout=60)
    out["workers"] = {"seconds": time.time() - t0, "output": text_of(messages), "before": len(workers_before)}
    late = []
    deadline = time.time() + 3
    while time.time() < deadline:
        try:
            m = kc.get_iopub_msg(timeout=0.5)
            if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] != "status":
                late.append(m["msg_type"])
        except Exception:
            pass
    out["workers"]["lateMessages"] = late
    out["workers"]["after"] = len([c for c in children(pid) if c in workers_before])

    # A config error: its message, not a stack.
    bad, _ = run('ck.checkLinearConfig({ settings: [{ d: 10, T: 100, sigma2: 1 }], iterations: 0 });')
    out["configError"] = text_of(bad)
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)

print(json.dumps(out))
