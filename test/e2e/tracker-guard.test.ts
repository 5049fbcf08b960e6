import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { newRunMark, processesMarked, RUN_MARK } from "../helpers/leftover-processes.js";
import { startLocalTracker } from "../../peer/cli/local-tracker.js";
import { freePort } from "../helpers/tracker.js";

const LOCAL_TRACKER = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "dist", "peer", "cli", "local-tracker.js");
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** A process that starts a local tracker and is then killed outright must not leave wrangler or workerd behind. */
it("a local tracker goes when the process that started it is SIGKILLed", async () => {
  const mark = newRunMark();
  const persistTo = await mkdtemp(join(tmpdir(), "p2p-guard-"));
  const port = await freePort();
  const script = `const { startLocalTracker } = await import(${JSON.stringify(LOCAL_TRACKER)});
await startLocalTracker({ host: "127.0.0.1", port: ${port}, persistTo: ${JSON.stringify(persistTo)} });
process.stdout.write("ready\\n");
setInterval(() => undefined, 1000);`;
  const starter = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, [RUN_MARK]: mark } });
  const exited = new Promise<void>((done) => starter.once("exit", () => done()));
  try {
    await new Promise<void>((ready, fail) => {
      starter.stdout.on("data", (data: Buffer) => (data.toString().includes("ready") ? ready() : undefined));
      starter.once("exit", (code) => fail(new Error(`the starter exited with ${code} before the tracker was ready`)));
    });
    const others = new Set([starter.pid ?? 0]);
    const running = processesMarked(mark, others).map((p) => p.command);
    expect(running.some((command) => command.includes("wrangler"))).toBe(true);
    expect(running.some((command) => command.includes("workerd"))).toBe(true);

    starter.kill("SIGKILL");
    await exited;
    const deadline = Date.now() + 15_000;
    while (processesMarked(mark, others).length > 0 && Date.now() < deadline) await sleep(200);
    expect(processesMarked(mark, others)).toEqual([]);
  } finally {
    starter.kill("SIGKILL");
    for (const { pid } of processesMarked(mark, new Set())) killQuietly(pid);
    await rm(persistTo, { recursive: true, force: true });
  }
});

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Gone meanwhile.
  }
}

/** The live processes of process group `pgid`, from /proc (field 5 of stat is the group). */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const fields = readFileSync(`/proc/${name}/stat`, "latin1").replace(/^.*\) /s, "").split(" ");
      if (fields[0] !== "Z" && Number(fields[2]) === pgid) members.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return members;
}

it("when wrangler dies by itself, workerd goes with it", async () => {
  const persistTo = await mkdtemp(join(tmpdir(), "p2p-guard-"));
  const tracker = await startLocalTracker({ host: "127.0.0.1", port: await freePort(), persistTo });
  const group = tracker.process.pid ?? 0;
  try {
    // wrangler's own first process (node .../bin/wrangler.js), not the guard, whose arguments name it too.
    const wrangler = groupMembers(group).find((pid) => readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0")[1]?.endsWith("bin/wrangler.js"));
    expect(wrangler).toBeDefined();
    expect(groupMembers(group).length).toBeGreaterThanOrEqual(3);
    process.kill(wrangler!, "SIGKILL");
    const deadline = Date.now() + 10_000;
    while (groupMembers(group).length > 0 && Date.now() < deadline) await sleep(100);
    expect(groupMembers(group)).toEqual([]);
  } finally {
    for (const pid of groupMembers(group)) killQuietly(pid);
    await tracker.stop("SIGKILL");
    await rm(persistTo, { recursive: true, force: true });
  }
});
