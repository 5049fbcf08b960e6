import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { BIN } from "./cli.js";

/**
 * Two emulated machines for a test: Linux network namespaces joined by a veth pair, each end named eth0,
 * with addresses in 198.18.0.0/15 (RFC 2544's benchmarking range, routed nowhere). Only root can make them.
 * Every process a test starts in them is killed and the namespaces are removed by dispose(), on any exit
 * path; the namespaces carry the test process's pid, so that concurrent runs never meet.
 */

export interface Machine {
  ns: string;
  address: string;
}

export interface MachineProcess {
  child: ChildProcess;
  /** stderr so far. */
  log(): string;
  stdout(): string;
  /** Resolves with the exit code when the process has exited (null if a signal ended it). */
  exited: Promise<number | null>;
  /** Resolves when stderr has a line matching `ready`; rejects if the process exits first or after timeoutMs. */
  ready(pattern: RegExp, timeoutMs: number): Promise<void>;
}

export function ip(args: string[]): { ok: boolean; out: string } {
  const run = spawnSync("ip", args, { encoding: "utf8", timeout: 10_000 });
  return { ok: run.status === 0, out: `${run.stdout ?? ""}${run.stderr ?? ""}${run.error?.message ?? ""}` };
}

export function must(args: string[]): string {
  const { ok, out } = ip(args);
  if (!ok) throw new Error(`ip ${args.join(" ")}: ${out}`);
  return out;
}

/** Why namespaces cannot be made here, or null when they can (checked by making and removing one). */
export function netnsUnavailable(): string | null {
  if (process.platform !== "linux") return "network namespaces are Linux only";
  if (process.getuid?.() !== 0) return "making network namespaces needs root";
  const probe = `p2p-probe-${process.pid}`;
  const made = ip(["netns", "add", probe]);
  if (!made.ok) return `ip netns is unavailable: ${made.out.trim()}`;
  ip(["netns", "del", probe]);
  return null;
}

export class MachinePair {
  readonly a: Machine;
  readonly b: Machine;
  private disposed = false;

  /** Makes both namespaces and the link; anything made before a failure is removed again. */
  constructor(tag: string) {
    this.a = { ns: `p2p-${tag}-${process.pid}-a`, address: "198.18.0.1" };
    this.b = { ns: `p2p-${tag}-${process.pid}-b`, address: "198.18.0.2" };
    try {
      must(["netns", "add", this.a.ns]);
      must(["netns", "add", this.b.ns]);
      // Made inside the namespaces, so that no interface of this machine's own namespace is touched.
      must(["link", "add", "eth0", "netns", this.a.ns, "type", "veth", "peer", "name", "eth0", "netns", this.b.ns]);
      for (const machine of [this.a, this.b]) {
        must(["-n", machine.ns, "addr", "add", `${machine.address}/24`, "dev", "eth0"]);
        must(["-n", machine.ns, "link", "set", "lo", "up"]);
        must(["-n", machine.ns, "link", "set", "eth0", "up"]);
      }
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /** Runs the built CLI (bin/p2p.js) on `machine`. */
  p2p(machine: Machine, args: string[], env?: NodeJS.ProcessEnv): MachineProcess {
    return this.run(machine, [process.execPath, BIN, ...args], env);
  }

  run(machine: Machine, argv: string[], env?: NodeJS.ProcessEnv): MachineProcess {
    return runInNamespace(machine.ns, argv, env);
  }

  /**
   * Kills every process still in either namespace (all of them this test's: nothing else runs there), then
   * removes the namespaces; the veth pair goes with them. Safe to call more than once.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const machine of [this.a, this.b]) removeNamespace(machine.ns);
  }
}

/** Runs `argv` in namespace `ns` (the caller's environment, or `env`), as a process the test watches. */
export function runInNamespace(ns: string, argv: string[], env?: NodeJS.ProcessEnv): MachineProcess {
  // `ip netns exec` enters the namespace and execs argv: the child's pid is the command's own.
  const child = spawn("ip", ["netns", "exec", ns, ...argv], { stdio: ["ignore", "pipe", "pipe"], ...(env === undefined ? {} : { env }) });
  let stderr = "";
  let stdout = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((done) => child.once("close", (code) => done(code)));
  const ready = (pattern: RegExp, timeoutMs: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`not ready after ${timeoutMs} ms: ${stderr}`)), timeoutMs);
      const check = (): void => {
        if (pattern.test(stderr)) finish();
      };
      const early = (code: number | null): void => finish(new Error(`exited (${code}) before it was ready: ${stderr}`));
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        child.stderr.off("data", check);
        child.off("exit", early);
        if (error === undefined) resolve();
        else reject(error);
      };
      child.stderr.on("data", check);
      child.once("exit", early);
      check();
    });
  return { child, log: () => stderr, stdout: () => stdout, exited, ready };
}

/** Kills every process still in `ns` (all of them the test's: nothing else runs there), then removes it. */
export function removeNamespace(ns: string): void {
  for (let round = 0; round < 50; round++) {
    const { ok, out } = ip(["netns", "pids", ns]);
    const pids = ok ? out.split(/\s+/).filter((p) => /^\d+$/.test(p)).map(Number) : [];
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
    spawnSync("sleep", ["0.1"]);
  }
  ip(["netns", "del", ns]);
}
