import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";

/**
 * Finds the processes a test run started and did not stop. The run marks its environment with a token of
 * its own (RUN_MARK); every process a test spawns inherits it (daemons, CLIs, wrangler dev and its
 * workerd), and keeps it after it is re-parented to init, so /proc shows what is left whoever its parent is.
 */

export const RUN_MARK = "P2P_TEST_RUN";

export interface Leftover {
  pid: number;
  command: string;
}

export function newRunMark(): string {
  return `${process.pid}-${randomBytes(6).toString("hex")}`;
}

function readProc(pid: string, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "latin1");
  } catch {
    return null; // Gone meanwhile, or not ours to read.
  }
}

/**
 * Live processes (zombies aside) whose environment carries `mark`, except `exceptPids`, the children of
 * `runnerPid` (the runner's own: its pool workers, vite's esbuild, the worker project's workerd; tests run
 * in pool workers, so what a test starts is a grandchild at least) and vitest's own helpers by name.
 */
export function processesMarked(mark: string, exceptPids: ReadonlySet<number>, runnerPid?: number): Leftover[] {
  const wanted = `${RUN_MARK}=${mark}`;
  const found: Leftover[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (exceptPids.has(pid)) continue;
    const environ = readProc(name, "environ");
    if (environ === null || !environ.split("\0").includes(wanted)) continue;
    const [state, parent] = (readProc(name, "stat") ?? "").replace(/^.*\) /s, "").split(" ");
    if (state === undefined || state === "Z" || state === "X") continue;
    if (runnerPid !== undefined && Number(parent) === runnerPid) continue;
    const command = (readProc(name, "cmdline") ?? "").split("\0").join(" ").trim();
    // The runner's own helpers carry the mark too (its pool workers, vite's esbuild service): not the tests'.
    if (/node_modules\/(vitest|tinypool|@esbuild|esbuild)\//.test(command)) continue;
    found.push({ pid, command });
  }
  return found;
}
