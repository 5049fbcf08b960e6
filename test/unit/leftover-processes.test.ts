import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { newRunMark, processesMarked, RUN_MARK } from "../helpers/leftover-processes.js";

/** The check every suite runs at its end (test/leftover-check.ts) must see a process that outlives its parent. */
describe("leftover processes", () => {
  it("finds a marked process, even one detached from its parent, and nothing once it is gone", async () => {
    const mark = newRunMark();
    const child = spawn("sleep", ["30"], { detached: true, stdio: "ignore", env: { ...process.env, [RUN_MARK]: mark } });
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    try {
      const found = processesMarked(mark, new Set([process.pid]));
      expect(found.map((p) => p.pid)).toEqual([child.pid]);
      expect(found[0]?.command).toBe("sleep 30");
      expect(processesMarked(newRunMark(), new Set())).toEqual([]);
    } finally {
      child.kill("SIGKILL");
      await exited;
    }
    expect(processesMarked(mark, new Set([process.pid]))).toEqual([]);
  });
});
