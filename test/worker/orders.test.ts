import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { SECRET_PATTERN } from "../../common/rendezvous-wire.js";
import { errorCode, identity, isOrder, NONCE, openSocket, post } from "./rendezvous-helpers.js";
import { ORDERS_PER_ASKER, ORDERS_PER_WINDOW } from "../../tracker-worker/rendezvous.js";

describe("orders through the Rendezvous socket", () => {
  it("reverse: the order carries the asker's connection address, never one from the body", async () => {
    const { key, peerId } = await identity("order-reverse");
    const socket = await openSocket(peerId, key, "10.31.0.1");
    const response = await post(`/v1/peers/${peerId}/reverse`, { port: 6881, nonce: NONCE, ip: "6.6.6.6" }, "203.0.113.77");
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ sent: true });
    const order = await socket.next();
    expect(order).toEqual({ type: "reverse", id: expect.stringMatching(SECRET_PATTERN) as unknown, ip: "203.0.113.77", port: 6881, nonce: NONCE });
    socket.ws.close(1000);
  });

  it("punch: round trip with the peer's punch-ready, the reply giving the peer's socket address and port", async () => {
    const { key, peerId } = await identity("order-punch");
    const socket = await openSocket(peerId, key, "2001:db8:31::5");
    const asked = post(`/v1/peers/${peerId}/punch`, { port: 40000, nonce: NONCE }, "198.51.100.20");
    const order = await socket.next();
    expect(order).toMatchObject({ type: "punch", ip: "198.51.100.20", port: 40000, nonce: NONCE });
    const id = isOrder(order) ? order.id : "";
    // A punch-ready for another id does not answer this one.
    socket.ws.send(JSON.stringify({ type: "punch-ready", id: "f".repeat(32), port: 1 }));
    socket.ws.send(JSON.stringify({ type: "punch-ready", id, port: 41000 }));
    const response = await asked;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ip: "2001:db8:31::5", port: 41000 });
    socket.ws.close(1000);
  });

  it("punch: 504 peer_silent when the peer does not answer within 3 s, 409 peer_refused when it refuses", async () => {
    const { key, peerId } = await identity("order-punch-silent");
    const socket = await openSocket(peerId, key, "10.31.0.3");
    const started = Date.now();
    const silent = await post(`/v1/peers/${peerId}/punch`, { port: 40001, nonce: NONCE }, "10.31.9.1");
    expect(silent.status).toBe(504);
    expect(await errorCode(silent)).toBe("peer_silent");
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    await socket.next();
    const asked = post(`/v1/peers/${peerId}/punch`, { port: 40002, nonce: NONCE }, "10.31.9.1");
    const order = await socket.next();
    socket.ws.send(JSON.stringify({ type: "refused", id: isOrder(order) ? order.id : "", reason: "busy" }));
    const refused = await asked;
    expect(refused.status).toBe(409);
    expect(await errorCode(refused)).toBe("peer_refused");
    socket.ws.close(1000);
  }, 10_000);

  it("404 peer_offline when the peer holds no socket, also once it closed its socket", async () => {
    const { key, peerId } = await identity("order-offline");
    const never = await post(`/v1/peers/${peerId}/reverse`, { port: 7000, nonce: NONCE }, "10.31.9.2");
    expect(never.status).toBe(404);
    expect(await errorCode(never)).toBe("peer_offline");
    const socket = await openSocket(peerId, key, "10.31.0.4");
    socket.ws.close(1000);
    await socket.closed;
    await new Promise((done) => setTimeout(done, 50));
    for (const route of ["reverse", "punch", "relay"]) {
      const body = route === "relay" ? {} : { port: 7000, nonce: NONCE };
      const response = await post(`/v1/peers/${peerId}/${route}`, body, "10.31.9.2");
      expect([route, response.status, await errorCode(response)]).toEqual([route, 404, "peer_offline"]);
    }
  });

  it("bounds what one asker may have a peer sent (12 in 10 s, an IPv6 /64 as one) before the peer's own budget, so others still get through", async () => {
    const { key, peerId } = await identity("order-asker-budget");
    const socket = await openSocket(peerId, key, "10.31.0.6");
    const reverse = (ip: string): Promise<Response> => post(`/v1/peers/${peerId}/reverse`, { port: 7000, nonce: NONCE }, ip);
    for (let i = 0; i < ORDERS_PER_ASKER; i++) expect((await reverse("10.31.3.1")).status).toBe(202);
    const over = await reverse("10.31.3.1");
    expect(over.status).toBe(429);
    expect(await errorCode(over)).toBe("order_limit");
    expect(Number(over.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    // A punch counts against the same share (and so does a relay ask, once a relay is picked).
    expect((await post(`/v1/peers/${peerId}/punch`, { port: 7000, nonce: NONCE }, "10.31.3.1")).status).toBe(429);
    // The stranger keeps asking: it spends nothing of the peer's budget, whose other orders still go out.
    for (let i = 0; i < 20; i++) expect((await reverse("10.31.3.1")).status).toBe(429);
    for (let i = 0; i < ORDERS_PER_WINDOW - ORDERS_PER_ASKER; i++) expect((await reverse(`10.31.4.${i + 1}`)).status).toBe(202);
    expect((await reverse("10.31.4.200")).status).toBe(429);
    for (let i = 0; i < ORDERS_PER_WINDOW; i++) await socket.next();
    socket.ws.close(1000);

    // An IPv6 asker is counted by its /64: other addresses in it share its budget.
    const six = await identity("order-asker-budget6");
    const socket6 = await openSocket(six.peerId, six.key, "2001:db8:31::6");
    const reverse6 = (ip: string): Promise<Response> => post(`/v1/peers/${six.peerId}/reverse`, { port: 7000, nonce: NONCE }, ip);
    for (let i = 0; i < ORDERS_PER_ASKER; i++) expect((await reverse6(`2001:db8:31:1::${i + 1}`)).status).toBe(202);
    expect((await reverse6("2001:db8:31:1:ffff::1")).status).toBe(429);
    expect((await reverse6("2001:db8:31:2::1")).status).toBe(202);
    socket6.ws.close(1000);
  });

  it("bounds the orders one peer is sent: 429 order_limit with Retry-After past 60 in 10 s", async () => {
    const { key, peerId } = await identity("order-budget");
    const socket = await openSocket(peerId, key, "10.31.0.5");
    for (let i = 0; i < ORDERS_PER_WINDOW; i++) {
      // From many askers: the bound is the peer's, not an address's.
      expect((await post(`/v1/peers/${peerId}/reverse`, { port: 7000, nonce: NONCE }, `10.31.1.${i + 1}`)).status).toBe(202);
    }
    const over = await post(`/v1/peers/${peerId}/reverse`, { port: 7000, nonce: NONCE }, "10.31.2.1");
    expect(over.status).toBe(429);
    expect(await errorCode(over)).toBe("order_limit");
    expect(Number(over.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    socket.ws.close(1000);
  });

  it("refuses bad requests with stable codes", async () => {
    const { peerId } = await identity("order-bad");
    const cases: [string, unknown, number, string][] = [
      ["/v1/peers/not-a-derived-id/reverse", { port: 1, nonce: NONCE }, 400, "invalid_peerId"],
      [`/v1/peers/${peerId}/reverse`, { port: 0, nonce: NONCE }, 400, "invalid_port"],
      [`/v1/peers/${peerId}/reverse`, { port: 1, nonce: NONCE.toUpperCase() }, 400, "invalid_nonce"],
      [`/v1/peers/${peerId}/punch`, { port: 1 }, 400, "missing_nonce"],
      [`/v1/peers/${peerId}/punch`, "[1]", 400, "invalid_body"],
      [`/v1/peers/${peerId}/relay`, "not json", 400, "invalid_json"],
      [`/v1/peers/${peerId}/relay`, { pad: "x".repeat(2000) }, 413, "body_too_large"],
    ];
    for (const [path, body, status, code] of cases) {
      const response = await post(path, body, "10.31.9.3");
      expect([path, response.status, await errorCode(response)]).toEqual([path, status, code]);
    }
    const get = await SELF.fetch(`https://tracker.test/v1/peers/${peerId}/punch`, { headers: { "CF-Connecting-IP": "10.31.9.4" } });
    expect(get.status).toBe(405);
  });
});
