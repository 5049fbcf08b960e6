import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AnnounceRequest, PeersReply } from "../../common/wire.js";
import { Announcer } from "../../peer/daemon/announcer.js";
import { Announcers } from "../../peer/daemon/announcers.js";
import type { Share } from "../../peer/state/share-registry.js";
import type { TrackerClient } from "../../peer/tracker-client/tracker-client.js";

/**
 * One announcer per tracker, against trackers the test controls (the tracker is the boundary): one that
 * never answers or refuses holds up no other, each keeps its own interval and back-off, and `p2p status`
 * gets each one's last outcome.
 */

interface Call {
  event: string;
  answer(): void;
  fail(message: string): void;
}

function heldTracker(baseUrl: string, calls: Call[]): TrackerClient {
  const announce = (_sha1: string, body: AnnounceRequest): Promise<PeersReply> =>
    new Promise((resolve, reject) =>
      calls.push({ event: body.event ?? "re-announce", answer: () => resolve({ interval: 30, peers: [] }), fail: (message) => reject(new Error(message)) }),
    );
  return { baseUrl, announce } as unknown as TrackerClient;
}

const share = { sha1: "a".repeat(40), path: "/shared/file", size: 1, manifestId: "m".repeat(64), manifest: { name: "file", chunkSize: 1 } } as unknown as Share;
const identity = { peerId: "p2p-test", key: "k".repeat(32) };
const settle = async (): Promise<void> => {
  await vi.advanceTimersByTimeAsync(0);
};

let silent: Call[];
let live: Call[];
let announcers: Announcers;

beforeEach(() => {
  vi.useFakeTimers();
  silent = [];
  live = [];
  const make = (tracker: TrackerClient): Announcer => new Announcer(tracker, tracker, identity, 5001, undefined, () => Promise.resolve(true), () => undefined);
  announcers = new Announcers([make(heldTracker("http://127.0.50.1:8787", silent)), make(heldTracker("http://127.0.50.2:8787", live))]);
});

afterEach(() => {
  announcers.close();
  vi.useRealTimers();
});

describe("announcing to several trackers", () => {
  it("a share counts as announced once one tracker takes it, while another has not answered", async () => {
    const started = announcers.start(share);
    await settle();
    expect([silent.length, live.length]).toEqual([1, 1]);
    live[0]!.answer();
    expect(await started).toBe(true);
    expect(announcers.status().map((t) => [t.url, t.ok])).toEqual([
      ["http://127.0.50.1:8787", null],
      ["http://127.0.50.2:8787", true],
    ]);
  });

  it("is not announced when every tracker fails; each one's error is kept for status", async () => {
    const started = announcers.start(share);
    await settle();
    silent[0]!.fail("ECONNREFUSED");
    live[0]!.fail("HTTP 503");
    expect(await started).toBe(false);
    expect(announcers.status().map((t) => [t.ok, t.lastError, t.lastSuccessAt])).toEqual([
      [false, "ECONNREFUSED", null],
      [false, "HTTP 503", null],
    ]);
  });

  it("each tracker keeps its own schedule: one failing retries soon, the other re-announces at its interval", async () => {
    const started = announcers.start(share);
    await settle();
    silent[0]!.fail("ECONNREFUSED");
    live[0]!.answer();
    await started;
    await vi.advanceTimersByTimeAsync(2500);
    expect(silent.map((c) => c.event)).toEqual(["started", "started"]);
    expect(live.map((c) => c.event)).toEqual(["started"]);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(live.map((c) => c.event)).toEqual(["started", "re-announce"]);
  });

  it("a stop tells every tracker `stopped`, and nothing is announced after close", async () => {
    const started = announcers.start(share);
    await settle();
    live[0]!.answer();
    silent[0]!.answer();
    await started;
    announcers.close();
    const stopped = announcers.stopAll([share]);
    await settle();
    expect(silent.map((c) => c.event)).toEqual(["started", "stopped"]);
    expect(live.map((c) => c.event)).toEqual(["started", "stopped"]);
    silent[1]!.answer();
    live[1]!.answer();
    await stopped;
    expect(announcers.isAnnouncing(share.sha1)).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});
