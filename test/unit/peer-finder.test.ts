import { describe, expect, it } from "vitest";
import type { FoundPeer } from "../../peer/sources/candidate-table.js";
import { PeerFinder, type PeerSource } from "../../peer/sources/peer-finder.js";

/**
 * The finder against sources whose answers the test releases (a source is the boundary: a tracker, later
 * the DHT): no source waits on another, late answers still reach the caller, and closing ends every look-up.
 */

interface HeldSource extends PeerSource {
  answer(peers: FoundPeer[]): void;
  fail(error: Error): void;
  aborted(): boolean;
}

function heldSource(name: string): HeldSource {
  let answer: (peers: FoundPeer[]) => void = () => undefined;
  let fail: (error: Error) => void = () => undefined;
  let signal: AbortSignal | undefined;
  return {
    name,
    final: true,
    find: (_sha1, lookup) => {
      signal = lookup;
      return new Promise((resolve, reject) => {
        answer = resolve;
        fail = reject;
        lookup.addEventListener("abort", () => reject(new Error("aborted")));
      });
    },
    answer: (peers) => answer(peers),
    fail: (error) => fail(error),
    aborted: () => signal?.aborted === true,
  };
}

const peer = (i: number): FoundPeer => ({ host: `127.0.50.${i}`, port: 5001, complete: true });
const sha1 = "a".repeat(40);

describe("the peer finder", () => {
  it("resolves with the first answer that names a peer while another source has not answered, and hands the late answer over when it lands", async () => {
    const slow = heldSource("tracker:slow");
    const fast = heldSource("tracker:fast");
    const finder = new PeerFinder([slow, fast]);
    const taken: string[] = [];
    const round = finder.round(sha1, (candidates) => taken.push(...candidates.map((c) => c.key)));
    fast.answer([peer(10)]);
    expect(await round).toEqual({ taken: 1, answered: 1, answeredBy: [{ name: "tracker:fast", final: true }], failures: [] });
    expect(slow.aborted()).toBe(false);
    slow.answer([peer(11), peer(10)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(taken).toEqual(["127.0.50.10:5001", "127.0.50.11:5001", "127.0.50.10:5001"]);
    expect(finder.table.get("127.0.50.10:5001")!.sources).toEqual(["tracker:fast", "tracker:slow"]);
    finder.close();
  });

  it("a failed source does not end the round while another may still answer", async () => {
    const down = heldSource("tracker:down");
    const up = heldSource("tracker:up");
    const finder = new PeerFinder([down, up]);
    const round = finder.round(sha1, (candidates) => candidates.length);
    down.fail(new Error("ECONNREFUSED"));
    up.answer([peer(10)]);
    const result = await round;
    expect(result.taken).toBe(1);
    expect(result.failures.map((f) => `${f.source}: ${f.error.message}`)).toEqual(["tracker:down: ECONNREFUSED"]);
  });

  it("with nobody listed anywhere, resolves once every source has answered or failed", async () => {
    const a = heldSource("tracker:a");
    const b = heldSource("tracker:b");
    const finder = new PeerFinder([a, b], new Set(["127.0.50.10:5001"]));
    let settled = false;
    const round = finder.round(sha1, () => 1).then((r) => ((settled = true), r));
    a.answer([peer(10)]); // only this peer itself: excluded
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    b.fail(new Error("down"));
    expect(await round).toMatchObject({ taken: 0, answered: 1, failures: [{ source: "tracker:b" }] });
    expect(finder.table.size).toBe(0);
  });

  it("a peer the caller does not take does not end the round", async () => {
    const a = heldSource("tracker:a");
    const b = heldSource("tracker:b");
    const finder = new PeerFinder([a, b]);
    const round = finder.round(sha1, (candidates) => candidates.filter((c) => c.host !== "127.0.50.10").length);
    a.answer([peer(10)]);
    b.answer([peer(11)]);
    expect((await round).taken).toBe(1);
  });

  it("closing ends the look-ups still on their way, and what lands after is not handed over", async () => {
    const slow = heldSource("tracker:slow");
    const fast = heldSource("tracker:fast");
    const finder = new PeerFinder([slow, fast]);
    let handed = 0;
    const round = finder.round(sha1, (candidates) => (handed += candidates.length));
    fast.answer([peer(10)]);
    await round;
    finder.close();
    expect(slow.aborted()).toBe(true);
    slow.answer([peer(11)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(handed).toBe(1);
  });

  it("quiet() waits for the look-ups still on their way, and is at once when none is", async () => {
    const slow = heldSource("tracker:slow");
    const fast = heldSource("tracker:fast");
    const finder = new PeerFinder([slow, fast]);
    await finder.quiet();
    const round = finder.round(sha1, (candidates) => candidates.length);
    fast.answer([peer(10)]);
    await round;
    let quiet = false;
    const waiting = finder.quiet().then(() => (quiet = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(quiet).toBe(false);
    slow.fail(new Error("down"));
    await waiting;
    expect(quiet).toBe(true);
  });
});
