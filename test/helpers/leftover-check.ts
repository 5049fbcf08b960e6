import { newRunMark, processesMarked, RUN_MARK, type Leftover } from "./leftover-processes.js";

/**
 * vitest globalSetup for every suite that starts processes: marks the run's environment before any test
 * starts, and at the end fails the run if a process a test started is still alive (after a short grace
 * for ones already stopping). What it finds is killed, so one failed run does not poison the next.
 */
const GRACE_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

export default function setup(): () => Promise<void> {
  const mark = newRunMark();
  process.env[RUN_MARK] = mark;
  return async () => {
    const self = new Set([process.pid]);
    let left: Leftover[] = processesMarked(mark, self, process.pid);
    const deadline = Date.now() + GRACE_MS;
    while (left.length > 0 && Date.now() < deadline) {
      await sleep(250);
      left = processesMarked(mark, self, process.pid);
    }
    if (left.length === 0) return;
    for (const { pid } of left) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
    const list = left.map(({ pid, command }) => `  ${pid} ${command.slice(0, 200)}`).join("\n");
    // vitest reports an error thrown here but still exits 0: the exit code is set as well.
    process.exitCode = 1;
    throw new Error(`${left.length} process(es) started by this test run were still alive at its end (now killed):\n${list}`);
  };
}
