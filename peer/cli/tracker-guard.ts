import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
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

/** How long what wrangler started gets to end after wrangler itself is gone. */
const EXIT_GRACE_MS = 2_000;

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
/** The other live processes of the guard's group, where /proc tells (Linux); null where it cannot. */
function othersInGroup(): number[] | null {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return null;
  }
  const others: number[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      // After "(command) ": state, parent, group.
      const [state, , group] = readFileSync(`/proc/${name}/stat`, "latin1").replace(/^.*\) /s, "").split(" ");
      if (state !== "Z" && Number(group) === process.pid) others.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return others;
}

// wrangler gone (stopped, crashed or killed): whatever it started (its CLI, workerd) goes too, then the
// guard, with wrangler's code. They get SIGTERM (the guard, in the same group, lets its own copy pass), and
// SIGKILL after a grace: wrangler's CLI does not always end on SIGTERM once its parent is gone.
child.on("exit", (code, signal) => {
  stopping = true;
  const status = code ?? 128 + (signal === null ? 0 : constants.signals[signal]);
  try {
    process.kill(-process.pid, "SIGTERM");
  } catch {
    // The group is gone.
  }
  const deadline = Date.now() + EXIT_GRACE_MS;
  const check = (): void => {
    const others = othersInGroup();
    if (others !== null && others.length === 0) process.exit(status);
    if (Date.now() < deadline) {
      setTimeout(check, 100);
      return;
    }
    for (const pid of others ?? []) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
    process.exit(status);
  };
  check();
});
