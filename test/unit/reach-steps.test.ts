import { createServer as createHttpServer, type Server } from "node:http";
import { createServer, type Server as NetServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { PendingHandshakes } from "../../peer/connect/pending-handshakes.js";
import { checkTarget, reachSteps } from "../../peer/connect/steps.js";
import { TrackerClient } from "../../peer/tracker-client/tracker-client.js";

/**
 * What a downloader does with a tracker's punch and relay replies: a tracker (a share link's, say) is a
 * stranger, and its reply must not aim this machine anywhere it should not go, nor put bytes of its choice
 * into a request head.
 */

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function listen<T extends Server | NetServer>(server: T, host: string): Promise<number> {
  closers.push(() => new Promise<void>((done) => server.close(() => done())));
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as { port: number }).port)));
}

describe("a tracker's word on where to connect", () => {
  it("takes only an IP address and a port, within the tracker's reach", () => {
    expect(checkTarget("http://80.100.100.20:8787", "80.100.100.32", 5001)).toEqual({ ip: "80.100.100.32", port: 5001 });
    expect(checkTarget("http://127.0.0.1:8787", "::ffff:127.0.0.9", 5001)).toEqual({ ip: "127.0.0.9", port: 5001 });
    const refused: Array<[string, unknown, unknown]> = [
      ["http://80.100.100.20:8787", "localhost", 5001],
      ["http://80.100.100.20:8787", "metadata.google.internal", 80],
      ["http://80.100.100.20:8787", "127.0.0.1", 5001],
      ["http://80.100.100.20:8787", "169.254.169.254", 80],
      ["http://80.100.100.20:8787", "192.168.1.1", 80],
      ["http://80.100.100.20:8787", "::", 5001],
      ["http://tracker.example", "10.0.0.1", 5001],
      ["http://80.100.100.20:8787", "80.100.100.32", 0],
      ["http://80.100.100.20:8787", "80.100.100.32", 70000],
      ["http://80.100.100.20:8787", "80.100.100.32", "5001"],
      ["http://80.100.100.20:8787", 12, 5001],
      ["http://127.0.0.1:8787", "239.255.80.50", 5011],
    ];
    for (const [tracker, ip, port] of refused) expect(() => checkTarget(tracker, ip, port), `${String(ip)}:${String(port)}`).toThrow(expect.objectContaining({ code: "BAD_TARGET" }));
  });

  it("never dials what a hostile tracker's relay or punch reply names when it is malformed", async () => {
    // Something on this machine a hostile tracker would like the downloader to talk to.
    let reached = 0;
    const victim = createServer((socket) => {
      reached++;
      socket.destroy();
    });
    const victimPort = await listen(victim, "127.0.0.1");
    const replies = [
      { ip: "localhost", port: victimPort, token: "a".repeat(32) },
      { ip: "127.0.0.1", port: victimPort, token: `x\r\n\r\nPOST /admin HTTP/1.1\r\nHost: internal` },
      { ip: "127.0.0.1", port: victimPort, token: "A".repeat(32) },
    ];
    let next = 0;
    const tracker = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(replies[next++ % replies.length]));
    });
    const trackerPort = await listen(tracker, "127.0.0.1");
    const handshakes = new PendingHandshakes();
    closers.push(() => Promise.resolve(handshakes.close()));
    const steps = reachSteps({ peerId: `p2p-${"e".repeat(32)}`, tracker: new TrackerClient(`http://127.0.0.1:${trackerPort}`), handshakes, reversalPort: () => null });
    const relayed = steps.find((step) => step.path === "relayed")!;
    for (let i = 0; i < replies.length; i++) await expect(relayed.open()).rejects.toMatchObject({ code: "BAD_TARGET" });
    const punched = steps.find((step) => step.path === "punched")!;
    await expect(punched.open()).rejects.toMatchObject({ code: "BAD_TARGET" });
    expect(reached).toBe(0);
  });
});
