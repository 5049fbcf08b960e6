import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Runs the real `p2p` CLI (the built bin/p2p.js) as a user would, and real daemons as child processes. */

export const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "p2p.js");

/** A line of a stack trace (`    at run (file:///.../x.js:12:7)`), which a user must never see; help text may wrap to a line that starts with "at". */
export const STACK_FRAME = /^\s+at .*:\d+:\d+\)?$/m;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface CliOptions {
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  /** A command that runs the CLI (e.g. setpriv with its options); the CLI's node and arguments follow it. */
  prefix?: string[];
}

export function startCli(args: string[], options: CliOptions = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const started = Date.now();
  const [command, ...prefixArgs] = [...(options.prefix ?? []), process.execPath];
  const child = spawn(command, [...prefixArgs, BIN, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
  const done = new Promise<CliResult>((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
  return { child, done };
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).done;
}

export interface Daemon {
  host: string;
  port: number;
  dataDir: string;
  child: ChildProcess;
  log(): string;
  /** SIGTERM (clean: tells the tracker) or SIGKILL; resolves when the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * The port test daemons listen on. Not the default 5001: a daemon of the user's own on 0.0.0.0:5001 (what
 * `p2p up` runs) holds that port on every address, and the tests would fail on a machine where it runs.
 */
export const PEER_PORT = 45001;

/**
 * `tracker`: one URL, or several (each passed as its own --tracker). `extra`: more daemon options. `env`: set
 * for the daemon over this process's (e.g. `P2P_DHT: "on"` over the test config's off).
 */
export async function startDaemon(
  host: string,
  dataDir: string,
  tracker: string | readonly string[],
  port = PEER_PORT,
  extra: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<Daemon> {
  const trackers = typeof tracker === "string" ? [tracker] : tracker;
  const { child } = startCli([...trackers.flatMap((url) => ["--tracker", url]), "--data-dir", dataDir, "daemon", "--host", host, "--port", String(port), ...extra], { timeoutMs: 3_600_000, env });
  let log = "";
  child.stderr?.on("data", (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ready = await new Promise<true | Error>((resolve) => {
    const timer = setTimeout(() => resolve(new Error(`daemon on ${host} not ready: ${log}`)), 20_000);
    const check = (): void => {
      if (log.includes("daemon ready")) {
        clearTimeout(timer);
        resolve(true);
      }
    };
    child.stderr?.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(new Error(`daemon on ${host} exited with ${code}: ${log}`));
    });
  });
  if (ready !== true) {
    // The caller gets no handle to stop it with: a daemon that is slow to start must not outlive the test.
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    throw ready;
  }
  return {
    host,
    port,
    dataDir,
    child,
    log: () => log,
    stop: async (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
