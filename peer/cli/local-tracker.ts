import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { connect, createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Errors } from "../errors.js";
import { isWildcard } from "./local-addresses.js";
import { projectRoot } from "./project-root.js";
import { startTrackerFront, type TrackerFront } from "./tracker-front.js";

/**
 * Runs the tracker Worker locally under `wrangler dev` (workerd), with its Durable Object state in a folder
 * so that it survives a restart. wrangler dev listens on a loopback port of its own; the address asked for
 * is served by a small front (tracker-front.ts) that sets CF-Connecting-IP as Cloudflare's edge would.
 * Used by `p2p tracker`, `npm start`, the tests and the benchmarks.
 */

export interface LocalTrackerOptions {
  host: string;
  port: number;
  persistTo: string;
  /** Overrides of wrangler.toml [vars], e.g. a short interval for tests. */
  vars?: Record<string, string>;
  /** Where wrangler's own output goes; "inherit" shows it, "ignore" drops it. */
  stdio?: "inherit" | "ignore" | "pipe";
}

export interface LocalTracker {
  url: string;
  process: ChildProcess;
  /** Resolves when the tracker has exited. Safe to call more than once. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Trackers this process started: if it exits without stopping them, they go with it. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function killOnExit(child: ChildProcess): void {
  running.add(child);
  child.once("exit", () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const proc of running) {
      try {
        if (proc.pid !== undefined) process.kill(-proc.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  });
}

function wranglerBin(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
}

/** The compiled guard (tracker-guard.ts): beside this file when it runs from dist/, under dist/ when it runs from source (tests). */
function guardScript(): string {
  const beside = join(dirname(fileURLToPath(import.meta.url)), "tracker-guard.js");
  return existsSync(beside) ? beside : join(projectRoot(), "dist", "peer", "cli", "tracker-guard.js");
}

/** wrangler dev's own arguments: loopback only, on `port`; the front serves the address asked for. */
function wranglerArgs(options: LocalTrackerOptions, configPath: string, port: number): string[] {
  const args = [
    "dev",
    "--config",
    configPath,
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--persist-to",
    // Absolute: a relative folder named like an option ("--x") must not reach wrangler as one.
    resolve(options.persistTo),
    "--inspector-port",
    "0",
    "--show-interactive-dev-session=false",
    "--log-level",
    "warn",
  ];
  for (const [key, value] of Object.entries(options.vars ?? {})) args.push("--var", `${key}:${value}`);
  return args;
}

export async function waitForHealth(url: string, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "no answer";
  while (Date.now() < deadline) {
    if (child !== undefined && child.exitCode !== null) throw new Error(`tracker exited with code ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/v1/health`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
      lastError = `health answered ${response.status}`;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await new Promise((done) => setTimeout(done, 200));
  }
  throw new Error(`tracker at ${url} not ready after ${timeoutMs} ms: ${lastError}`);
}

/** A port nothing listens on now (for wrangler dev behind the front; the tests use it too). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

function addressTaken(options: LocalTrackerOptions): Error {
  return Errors.daemonRunning(`something already listens on ${options.host}:${options.port}`, "stop it (another `p2p tracker`?), or pass --port");
}

/** Whether something already accepts connections on host:port (another tracker, say). */
function portTaken(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: isWildcard(host) ? "127.0.0.1" : host, port });
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function startLocalTracker(options: LocalTrackerOptions, readyTimeoutMs = 60_000): Promise<LocalTracker> {
  if (await portTaken(options.host, options.port)) {
    throw addressTaken(options);
  }
  const configPath = join(projectRoot(), "wrangler.toml");
  const internalPort = await freePort();
  const child = spawn(process.execPath, [guardScript(), process.execPath, wranglerBin(), ...wranglerArgs(options, configPath, internalPort)], {
    cwd: projectRoot(),
    // Nothing beyond this machine: no metrics, and no fetch of Request.cf from workers.cloudflare.com (a local
    // tracker needs no real one; Miniflare's placeholder serves, and an offline machine waits 3 s for nothing).
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "1" },
    // The guard's stdin is a pipe from this process: when this process ends, however it ends, the guard
    // sees it close and stops wrangler and workerd (tracker-guard.ts).
    stdio: ["pipe", options.stdio ?? "ignore", options.stdio ?? "ignore"],
    // Its own process group, so that stopping it stops wrangler and workerd too.
    detached: true,
  });
  killOnExit(child);
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const url = `http://${isWildcard(options.host) ? "127.0.0.1" : host}:${options.port}`;
  let front: TrackerFront | null = null;
  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<void> => {
    await front?.close();
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    }
    await exited;
  };
  try {
    await waitForHealth(`http://127.0.0.1:${internalPort}`, readyTimeoutMs, child);
  } catch (err) {
    await stop("SIGKILL");
    throw Errors.trackerFailed(`the local tracker did not start: ${err instanceof Error ? err.message : String(err)}`, "wrangler's output above says why");
  }
  try {
    front = await startTrackerFront(options.host, options.port, internalPort);
  } catch (err) {
    await stop("SIGKILL");
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") throw addressTaken(options);
    throw Errors.trackerFailed(`the local tracker could not listen on ${options.host}:${options.port}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { url, process: child, stop };
}
