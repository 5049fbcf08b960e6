import { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { Ladder, NoPathError, type Step } from "../../peer/connect/ladder.js";
import type { PeerPath } from "../../common/rendezvous-wire.js";

/** A step that fails while `failing` says so, counting its tries; its "socket" is a fresh unconnected one. */
function step(path: PeerPath, failing: () => boolean): Step & { tries: number } {
  const s = {
    path,
    tries: 0,
    open: () => {
      s.tries++;
      return failing() ? Promise.reject(new Error(`${path} failed`)) : Promise.resolve(new Socket());
    },
  };
  return s;
}

describe("the ladder of ways to an unreachable peer", () => {
  it("tries the ways in order and keeps the one that worked first for the next socket", async () => {
    const reversed = step("reversed", () => true);
    const punched = step("punched", () => false);
    const relayed = step("relayed", () => false);
    const ladder = new Ladder([reversed, punched, relayed]);
    expect(ladder.path).toBe("reversed");
    (await ladder.dial()).destroy();
    expect(ladder.path).toBe("punched");
    expect([reversed.tries, punched.tries, relayed.tries]).toEqual([1, 1, 0]);
    (await ladder.dial()).destroy();
    expect([reversed.tries, punched.tries, relayed.tries]).toEqual([1, 2, 0]);
  });

  it("stops trying a way that failed twice while another works, and names every failure when none does", async () => {
    let punchFails = false;
    const reversed = step("reversed", () => true);
    const punched = step("punched", () => punchFails);
    const relayed = step("relayed", () => false);
    const ladder = new Ladder([reversed, punched, relayed]);
    (await ladder.dial()).destroy();
    (await ladder.dial()).destroy();
    punchFails = true;
    (await ladder.dial()).destroy();
    expect(ladder.path).toBe("relayed");
    // reversed failed twice (the first and third dials): not tried again while relayed works.
    (await ladder.dial()).destroy();
    expect(reversed.tries).toBe(2);
    const none = new Ladder([step("reversed", () => true), step("relayed", () => true)]);
    const error = await none.dial().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoPathError);
    expect((error as Error).message).toBe("no way to reach this peer: reversed: reversed failed; relayed: relayed failed");
    // After every way failed twice, all are tried again rather than the peer given up for good.
    await none.dial().catch(() => undefined);
    expect(none.order().map((s) => s.path)).toEqual(["reversed", "relayed"]);
  });

  it("stops at an aborted signal", async () => {
    const reversed = step("reversed", () => false);
    const ladder = new Ladder([reversed]);
    await expect(ladder.dial(AbortSignal.abort())).rejects.toBeInstanceOf(NoPathError);
    expect(reversed.tries).toBe(0);
  });
});

describe("the ladder's staggered start", () => {
  it("starts the next way beside one that hangs, takes the first socket, and gives the other up", async () => {
    let aborted = false;
    const hanging: Step = {
      path: "reversed",
      open: (signal) =>
        new Promise((_resolve, reject) => {
          signal?.addEventListener("abort", () => {
            aborted = true;
            reject(new Error("given up"));
          });
        }),
    };
    const punched = step("punched", () => false);
    const ladder = new Ladder([hanging, punched], 50);
    const started = Date.now();
    (await ladder.dial()).destroy();
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(ladder.path).toBe("punched");
    expect(aborted).toBe(true);
    // A socket that arrives after another won is closed, not leaked.
    let late: Socket | null = null;
    const slow: Step = { path: "reversed", open: () => new Promise((resolve) => setTimeout(() => resolve((late = new Socket())), 100)) };
    const quick = step("relayed", () => false);
    (await new Ladder([slow, quick], 10).dial()).destroy();
    await new Promise((done) => setTimeout(done, 150));
    expect(late).not.toBeNull();
    expect(late!.destroyed).toBe(true);
  });
});

describe("the ladder's dials one at a time", () => {
  it("lets the first socket find the way, and the next ones take it without trying the others", async () => {
    const reversed = step("reversed", () => true);
    const punched = step("punched", () => false);
    const relayed = step("relayed", () => false);
    const ladder = new Ladder([reversed, punched, relayed], 50);
    const sockets = await Promise.all([ladder.dial(), ladder.dial(), ladder.dial(), ladder.dial()]);
    for (const socket of sockets) socket.destroy();
    expect([reversed.tries, punched.tries, relayed.tries]).toEqual([1, 4, 0]);
  });
});
