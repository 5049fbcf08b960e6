import { describe, expect, it } from "vitest";
import { SOCKET_BAD_FRAMES, SOCKET_REPLACED } from "../../common/rendezvous-wire.js";
import { errorCode, identity, NONCE, openSocket, post, upgrade } from "./rendezvous-helpers.js";

describe("the Rendezvous socket", () => {
  it("opens only for the key that derives the id", async () => {
    const { key, peerId } = await identity("socket-auth");
    const other = await identity("socket-auth-other");
    const wrongKey = await upgrade(peerId, other.key, "10.30.0.1");
    expect(wrongKey.status).toBe(403);
    expect(await errorCode(wrongKey)).toBe("key_mismatch");
    const noKey = await upgrade(peerId, null, "10.30.0.1");
    expect(noKey.status).toBe(401);
    expect(await errorCode(noKey)).toBe("missing_key");
    // An id that is not derived from any key can never be opened, whatever key comes with it.
    const underived = await upgrade("p2p-legacy-random-id", key, "10.30.0.1");
    expect(underived.status).toBe(403);
    const plain = await upgrade(peerId, key, "10.30.0.1", { Upgrade: "h2c" });
    expect(plain.status).toBe(426);
    expect(await errorCode(plain)).toBe("upgrade_required");
    const socket = await openSocket(peerId, key, "10.30.0.1");
    socket.ws.close(1000);
  });

  it("answers ping with pong", async () => {
    const { key, peerId } = await identity("socket-ping");
    const socket = await openSocket(peerId, key, "10.30.0.2");
    socket.ws.send("ping");
    expect(await socket.next()).toBe("pong");
    socket.ws.close(1000);
  });

  it("keeps one socket per peer: a newer one closes the older with 4000, and orders go to the newer", async () => {
    const { key, peerId } = await identity("socket-replaced");
    const first = await openSocket(peerId, key, "10.30.0.3");
    const second = await openSocket(peerId, key, "10.30.0.4");
    expect(await first.closed).toBe(SOCKET_REPLACED);
    expect((await post(`/v1/peers/${peerId}/reverse`, { port: 7000, nonce: NONCE }, "10.30.9.9")).status).toBe(202);
    expect(await second.next()).toMatchObject({ type: "reverse", ip: "10.30.9.9", port: 7000 });
    second.ws.close(1000);
  });

  it("ignores a few bad frames and closes a socket that sends many", async () => {
    const { key, peerId } = await identity("socket-bad-frames");
    const socket = await openSocket(peerId, key, "10.30.0.5");
    socket.ws.send("x".repeat(2000));
    socket.ws.send("{not json");
    socket.ws.send(JSON.stringify({ type: "launch-missiles", id: NONCE }));
    socket.ws.send(new Uint8Array([1, 2, 3]));
    // An answer for an order nobody waits for is well formed: dropped, not counted.
    for (let i = 0; i < 10; i++) socket.ws.send(JSON.stringify({ type: "punch-ready", id: NONCE, port: 4000 }));
    socket.ws.send("ping");
    expect(await socket.next()).toBe("pong");
    // Still held: an order reaches it.
    expect((await post(`/v1/peers/${peerId}/reverse`, { port: 7001, nonce: NONCE }, "10.30.9.8")).status).toBe(202);
    expect(await socket.next()).toMatchObject({ type: "reverse" });
    socket.ws.send("[]");
    socket.ws.send("null");
    expect(await socket.closed).toBe(SOCKET_BAD_FRAMES);
  });
});
