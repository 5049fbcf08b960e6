import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AnnounceRequest, PeersReply } from "../../common/wire.js";
import { Announcer } from "../../peer/daemon/announcer.js";
import type { Share } from "../../peer/state/share-registry.js";
import type { TrackerClient } from "../../peer/tracker-client/tracker-client.js";

/**
 * The announcer against a tracker whose answers the test releases one by one (the tracker is the boundary):
 * a stop must win over an announce already on its way, and a closed announcer must start nothing.
 */

interface Call {
  event: string;
  answer(): void;
}

/** A tracker that records each announce and answers it only when the test says so. */
function heldTracker(calls: Call[]): TrackerClient {
  const announce = (_sha1: string, body: AnnounceRequest): Promise<PeersReply> =>
    new Promise((resolve) => calls.push({ event: body.event ?? "re-announce", answer: () => resolve({ interval: 30, peers: [] }) }));
  return { announce } as unknown as TrackerClient;
}

const share = { sha1: "a".repeat(40), path: "/shared/file", size: 1, manifestId: "m".repeat(64), manifest: { name: "file", chunkSize: 1 } } as unknown as Share;

let calls: Call[];
let announcer: Announcer;

/** Lets the announcer's awaits (its intact check, the answers) run. */
const settle = async (): Promise<void> => {
  await vi.advanceTimersByTimeAsync(0);
};

beforeEach(() => {
  vi.useFakeTimers();
  calls = [];
  const tracker = heldTracker(calls);
  announcer = new Announcer(tracker, tracker, { peerId: "p2p-test", key: "k".repeat(32) }, 5001, undefined, () => Promise.resolve(true), () => undefined);
});

afterEach(() => {
  announcer.close();
  vi.useRealTimers();
});

describe("the announcer", () => {
  it("a `started` that lands after its share was stopped arms no re-announce, and the tracker is told `stopped` again", async () => {
    const started = announcer.start(share);
    await settle();
    expect(calls.map((c) => c.event)).toEqual(["started"]);
    const stopped = announcer.stop(share);
    await settle();
    calls[1]!.answer();
    await stopped;
    calls[0]!.answer();
    expect(await started).toBe(true);
    await settle();
    expect(calls.map((c) => c.event)).toEqual(["started", "stopped", "stopped"]);
    expect(announcer.isAnnouncing(share.sha1)).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a re-announce on its way when the share is stopped does not arm the next one", async () => {
    const started = announcer.start(share);
    await settle();
    calls[0]!.answer();
    await started;
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(calls.map((c) => c.event)).toEqual(["started", "re-announce"]);
    const stopped = announcer.stop(share);
    await settle();
    calls[2]!.answer();
    await stopped;
    calls[1]!.answer();
    await settle();
    expect(calls.map((c) => c.event)).toEqual(["started", "re-announce", "stopped", "stopped"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("once closed, starts nothing: no announce, no timer", async () => {
    announcer.close();
    expect(await announcer.start(share)).toBe(false);
    await settle();
    expect(calls).toEqual([]);
    expect(announcer.isAnnouncing(share.sha1)).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("close cancels the re-announce timers of the shares it was announcing", async () => {
    const started = announcer.start(share);
    await settle();
    calls[0]!.answer();
    await started;
    expect(vi.getTimerCount()).toBe(1);
    announcer.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(announcer.isAnnouncing(share.sha1)).toBe(false);
  });
});
