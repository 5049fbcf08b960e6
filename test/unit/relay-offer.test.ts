import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import type { RelayOffer } from "../../common/rendezvous-wire.js";
import { RelayOffers } from "../../peer/connect/relay-offer.js";
import { TrackerClient } from "../../peer/tracker-client/tracker-client.js";

/**
 * The relay's offers to its trackers. `POST /v1/relays` is being built in the Worker at the same time as this,
 * so a tiny Node HTTP server stands in for that endpoint only (its request and reply types are the shared
 * ones of common/rendezvous-wire.ts); once the Worker has it, an end-to-end test against wrangler dev belongs
 * with the daemon's --relay.
 */

const IP = "127.0.91.6";
const identity = { peerId: `p2p-${"1".repeat(32)}`, key: "k".repeat(48) };

let server: Server | undefined;
let offers: RelayOffers | undefined;
let bodies: RelayOffer[] = [];

afterEach(async () => {
  await offers?.stop();
  offers = undefined;
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
  bodies = [];
});

/** The stand-in endpoint: records every offer and answers what `reply` says for it. */
async function tracker(reply: (body: RelayOffer, n: number) => { status: number; body: unknown; delayMs?: number }): Promise<string> {
  server = createServer((req, res) => {
    let text = "";
    req.on("data", (part: Buffer) => (text += part.toString("utf8")));
    req.on("end", () => {
      const body = JSON.parse(text) as RelayOffer;
      expect(req.method).toBe("POST");
      expect(req.url).toBe("/v1/relays");
      bodies.push(body);
      const answer = reply(body, bodies.length);
      setTimeout(() => {
        res.writeHead(answer.status, { "Content-Type": "application/json" });
        res.end(JSON.stringify(answer.body));
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, IP, resolve));
  const address = server.address();
  return `http://${IP}:${typeof address === "object" && address !== null ? address.port : 0}`;
}

const clients = (url: string): { tracker: TrackerClient; stopTracker: TrackerClient } => ({ tracker: new TrackerClient(url, undefined, 2000), stopTracker: new TrackerClient(url, undefined, 500) });

async function until(condition: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !condition(); ) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("RelayOffers", () => {
  it("offers at once with its id, key and port, again at the tracker's interval, and says stopped when it stops", async () => {
    const url = await tracker(() => ({ status: 200, body: { interval: 1, reachable: true } }));
    offers = new RelayOffers([clients(url)], identity, 5001);
    expect(offers.reachable).toBeNull();
    await offers.start();
    expect(bodies).toEqual([{ peerId: identity.peerId, key: identity.key, port: 5001 }]);
    expect(offers.reachable).toBe(true);
    expect(offers.status()).toEqual([expect.objectContaining({ url, ok: true, reachable: true, lastError: null })]);
    await until(() => bodies.length === 2, 3000);
    await offers.stop();
    expect(bodies.at(-1)).toEqual({ peerId: identity.peerId, key: identity.key, port: 5001, event: "stopped" });
    const count = bodies.length;
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(bodies).toHaveLength(count);
    await offers.stop();
    expect(bodies).toHaveLength(count);
  });

  it("reports a tracker that could not reach it, and is reachable while any one could", async () => {
    const unreachable = await tracker(() => ({ status: 200, body: { interval: 600, reachable: false } }));
    const down = new TrackerClient("http://127.0.91.7:1", undefined, 500);
    offers = new RelayOffers([clients(unreachable), { tracker: down, stopTracker: down }], identity, 5001, { retryBaseMs: 60_000 });
    await offers.start();
    expect(offers.reachable).toBe(false);
    const [first, second] = offers.status();
    expect(first).toMatchObject({ ok: true, reachable: false });
    expect(second).toMatchObject({ ok: false, reachable: null });
    expect(second?.lastError).toMatch(/cannot reach the tracker/);
  });

  it("retries a failed offer with backoff, and counts a reply that is not a relay offer reply as one", async () => {
    const url = await tracker((_body, n) =>
      n === 1 ? { status: 503, body: { error: { code: "overloaded", message: "busy" } } } : n === 2 ? { status: 200, body: { interval: "soon" } } : { status: 200, body: { interval: 600, reachable: true } },
    );
    const lines: string[] = [];
    offers = new RelayOffers([clients(url)], identity, 5001, { retryBaseMs: 50, log: (line) => lines.push(line) });
    await offers.start();
    expect(offers.status()[0]).toMatchObject({ ok: false });
    await until(() => offers!.reachable === true);
    expect(bodies).toHaveLength(3);
    expect(lines.join("\n")).toMatch(/unavailable \(overloaded\)[^]*not a relay offer reply/);
  });

  it("offers again at once with a new port, even when the port changes while an offer is on its way", async () => {
    const url = await tracker((_body, n) => ({ status: 200, body: { interval: 600, reachable: true }, delayMs: n === 2 ? 300 : 0 }));
    offers = new RelayOffers([clients(url)], identity, 5001);
    await offers.start();
    offers.setPort(6001);
    await until(() => bodies.length === 2);
    offers.setPort(7001);
    await until(() => bodies.length === 3);
    expect(bodies.map((body) => body.port)).toEqual([5001, 6001, 7001]);
  });

  it("sends stopped after an offer that was on its way when it stopped", async () => {
    const url = await tracker((_body, n) => ({ status: 200, body: { interval: 600, reachable: true }, delayMs: n === 1 ? 300 : 0 }));
    offers = new RelayOffers([clients(url)], identity, 5001);
    const starting = offers.start();
    await until(() => bodies.length === 1);
    await offers.stop();
    await starting;
    expect(bodies.map((body) => body.event)).toEqual([undefined, "stopped"]);
  });
});
