import { describe, expect, it } from "vitest";
import { pickLocalPort, simultaneousOpen } from "../../peer/connect/punch.js";

/** What a punch does when nothing answers; the crossing itself is in test/e2e/punch.test.ts (it needs a namespace). */
describe("simultaneousOpen", () => {
  it("gives up with PUNCH_FAILED at its deadline when nobody is there, having tried again and again", async () => {
    const localPort = await pickLocalPort("127.0.90.1");
    const nobody = await pickLocalPort("127.0.90.2");
    const started = Date.now();
    const punch = simultaneousOpen({ localPort, localAddress: "127.0.90.1", ip: "127.0.90.2", port: nobody, deadlineMs: 600 });
    await expect(punch).rejects.toMatchObject({ code: "PUNCH_FAILED", kind: "network" });
    await expect(punch).rejects.toThrow(/attempts, last: ECONNREFUSED/);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(550);
    expect(took).toBeLessThan(1500);
  });

  it("stops at once when its caller gives up", async () => {
    const localPort = await pickLocalPort("127.0.90.1");
    const nobody = await pickLocalPort("127.0.90.2");
    const stop = new AbortController();
    const punch = simultaneousOpen({ localPort, localAddress: "127.0.90.1", ip: "127.0.90.2", port: nobody, deadlineMs: 10_000, signal: stop.signal });
    setTimeout(() => stop.abort(), 150);
    const started = Date.now();
    await expect(punch).rejects.toMatchObject({ code: "CONNECT_ABORTED" });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("picks free local ports", async () => {
    const port = await pickLocalPort("127.0.90.1");
    expect(port).toBeGreaterThan(1023);
    expect(port).toBeLessThan(65536);
  });
});
