import { type ChildProcess, spawn } from "node:child_process";
import * as net from "node:net";
import * as path from "node:path";
import { packageRoot } from "../src/environment";

/**
 * JupyterLab started the way a reader starts it, `bash scripts/lab.sh --no-browser --port P`, for
 * test/lab.test.ts and test/browser.test.ts. The server runs in its own process group, so stop()
 * ends it and the kernels it started.
 */
export interface LabServer {
  url: string;
  token: string;
  port: number;
  proc: ChildProcess;
  /** stdout and stderr of lab.sh and JupyterLab so far. */
  log(): string;
  /** GET url + path with the token; the status and the parsed JSON body (null if not JSON). */
  get(p: string, withToken?: boolean): Promise<{ status: number; body: unknown }>;
  stop(): Promise<number | null>;
}

/** A port nothing listens on now (the OS picks it; a race with other programs is possible but rare). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts scripts/lab.sh and waits until /api/status answers (or lab.sh exits, or the timeout). */
export async function startLab(env: NodeJS.ProcessEnv, opts: { timeoutMs?: number; args?: string[] } = {}): Promise<LabServer> {
  const root = packageRoot();
  const port = await freePort();
  const token = `collapse-test-${process.pid}-${Date.now().toString(36)}`;
  let out = "";
  const proc = spawn("bash", [path.join(root, "scripts", "lab.sh"), "--no-browser", "--port", String(port), ...(opts.args ?? [])], {
    cwd: root,
    // The suite has built dist/: a rebuild would delete dist/test under the running tests.
    env: { ...process.env, COLLAPSE_LAB_SKIP_BUILD: "1", ...env, JUPYTER_TOKEN: token },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout!.on("data", (b) => (out += b));
  proc.stderr!.on("data", (b) => (out += b));
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) => proc.on("exit", (code, signal) => resolve((exited = code ?? (signal ? 128 : null)))));
  const url = `http://127.0.0.1:${port}`;
  const get = async (p: string, withToken = true) => {
    const r = await fetch(`${url}${p}`, withToken ? { headers: { Authorization: `token ${token}` } } : {});
    const text = await r.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: r.status, body };
  };
  const stop = async () => {
    if (exited !== undefined) return exited;
    try {
      process.kill(-proc.pid!, "SIGTERM"); // jupyter shuts its kernels down on SIGTERM
    } catch {
      /* already gone */
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-proc.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    }, 15_000);
    const code = await exit;
    clearTimeout(timer);
    return code;
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    if (exited !== undefined) throw new Error(`scripts/lab.sh exited (${exited}) before JupyterLab answered:\n${out}`);
    try {
      const r = await get("/api/status");
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`JupyterLab did not answer on ${url} within ${opts.timeoutMs ?? 120_000} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, token, port, proc, log: () => out, get, stop };
}
