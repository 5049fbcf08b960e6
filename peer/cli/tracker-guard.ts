import { spawn } from "node:child_process";
import { constants } from "node:os";

/**
 * Runs `wrangler dev` so that it cannot outlive the process that started it. local-tracker.ts starts this
 * guard as the leader of a process group of its own, with a pipe on its stdin, and the guard starts
 * wrangler (which starts workerd) in that group. The group is stopped with one kill(-pgid) on a normal stop;
 * if the starter dies without stopping it (SIGKILL, a crash, a test runner's timeout), the pipe closes and
 * the guard stops the group itself. Without it a killed CLI or test left wrangler and workerd running.
 *
 * Usage: node tracker-guard.js <program> [args...]; exits with the program's code.
 */

/** How long wrangler gets to stop after SIGTERM before the group is killed. */
const STOP_GRACE_MS = 5_000;

const [program, ...args] = process.argv.slice(2);
if (program === undefined) {
  process.stderr.write("tracker-guard: no program to run\n");
  process.exit(2);
}

const child = spawn(program, args, { stdio: ["ignore", "inherit", "inherit"] });
let stopping = false;

function stopGroup(): void {
  if (stopping) return;
  stopping = true;
  try {
    process.kill(-process.pid, "SIGTERM");
  } catch {
    // The group is already gone.
  }
  setTimeout(() => process.kill(-process.pid, "SIGKILL"), STOP_GRACE_MS).unref();
}

// A signal sent to the group reaches the guard too: wrangler gets it as well, so the guard only waits.
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => stopGroup());

// The starter's end of the pipe closes when the starter exits, however it exits.
process.stdin.on("data", () => undefined);
process.stdin.on("close", stopGroup);
process.stdin.on("end", stopGroup);

child.on("error", (error) => {
  process.stderr.write(`tracker-guard: cannot run ${program}: ${error.message}\n`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  process.exit(code ?? 128 + (signal === null ? 0 : constants.signals[signal]));
});
