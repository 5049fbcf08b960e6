import { createServer } from "node:http";
import { createSocket } from "node:dgram";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseRouteTable } from "../../peer/reach/gateway.js";
import { parseDescription } from "../../peer/reach/igd.js";
import { clampLease, renewDelayMs, retryDelayMs } from "../../peer/reach/lease.js";
import { mapRequest as natpmpRequest, NatPmpMapper, parseAddressReply, parseMapReply as parseNatPmp } from "../../peer/reach/natpmp.js";
import { mapRequest as pcpRequest, parseMapReply as parsePcp } from "../../peer/reach/pcp.js";
import { PortMappingError } from "../../peer/reach/port-mapper.js";
import { parseSearchReply } from "../../peer/reach/ssdp.js";
import { exchange } from "../../peer/reach/udp-exchange.js";

/** What a router says is untrusted: garbage never throws out of a parser, and never becomes a mapping. */

describe("a lying router", () => {
  it("garbage datagrams and documents never throw and never yield a valid mapping", () => {
    const nonce = Buffer.alloc(12, 7);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 400 }), (bytes, text) => {
        const datagram = Buffer.from(bytes);
        for (const reply of [parseNatPmp(datagram, 5001), parseAddressReply(datagram), parsePcp(datagram, nonce, 5001)]) {
          if (reply === null || reply instanceof PortMappingError) continue;
          if ("externalPort" in reply) expect(reply.externalPort).toBeGreaterThan(0);
        }
        expect(parseSearchReply(datagram, "10.0.0.1") === null || typeof parseSearchReply(datagram, "10.0.0.1") === "object").toBe(true);
        parseDescription(text, new URL("http://10.0.0.1:5000/desc.xml"));
        parseRouteTable(text);
      }),
      { numRuns: 2000 },
    );
  });

  it("NAT-PMP: a refusal, a reply for another port, a zero port are never taken as a mapping", () => {
    const reply = Buffer.alloc(16);
    reply.writeUInt8(130, 1);
    reply.writeUInt16BE(5001, 8);
    reply.writeUInt16BE(0, 10);
    reply.writeUInt32BE(3600, 12);
    expect(parseNatPmp(reply, 5001)).toBeInstanceOf(PortMappingError);
    reply.writeUInt16BE(6000, 10);
    expect(parseNatPmp(reply, 5001)).toEqual({ externalPort: 6000, lifetimeSeconds: 3600 });
    expect(parseNatPmp(reply, 5002)).toBeNull();
    reply.writeUInt16BE(2, 2);
    expect(parseNatPmp(reply, 5001)).toBeInstanceOf(PortMappingError);
    expect(natpmpRequest(5001, 5001, 7200)).toHaveLength(12);
  });

  it("PCP: a reply with another nonce is ignored; a NAT-PMP-only router's answer is a refusal", () => {
    const nonce = Buffer.alloc(12, 1);
    const request = pcpRequest("10.80.1.2", nonce, 5001, 5001, 7200);
    expect(request).toHaveLength(60);
    const reply = Buffer.from(request);
    reply.writeUInt8(0x81, 1);
    reply[44 + 12] = 80;
    reply[44 + 13] = 100;
    reply[44 + 14] = 100;
    reply[44 + 15] = 1;
    expect(parsePcp(reply, nonce, 5001)).toEqual({ externalIp: "80.100.100.1", externalPort: 5001, lifetimeSeconds: 7200 });
    expect(parsePcp(reply, Buffer.alloc(12, 2), 5001)).toBeNull();
    expect(parsePcp(Buffer.from([0, 129, 0, 1]), nonce, 5001)).toBeInstanceOf(PortMappingError);
  });

  it("SSDP: a LOCATION on another host than the reply's sender, or not http, is not followed", () => {
    const reply = (location: string) => Buffer.from(`HTTP/1.1 200 OK\r\nLOCATION: ${location}\r\nST: x\r\n\r\n`);
    expect(parseSearchReply(reply("http://10.0.0.1:5000/d.xml"), "10.0.0.1")?.href).toBe("http://10.0.0.1:5000/d.xml");
    expect(parseSearchReply(reply("http://169.254.169.254/latest/meta-data"), "10.0.0.1")).toBeNull();
    expect(parseSearchReply(reply("file:///etc/passwd"), "10.0.0.1")).toBeNull();
    expect(parseSearchReply(reply("http://user:pw@10.0.0.1/"), "10.0.0.1")).toBeNull();
  });

  it("IGD description: a control URL on another host is not used", () => {
    const desc = (control: string) => `<root><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>${control}</controlURL></service></root>`;
    const location = new URL("http://10.0.0.1:5000/d.xml");
    expect(parseDescription(desc("/ctl/IPConn"), location)?.controlUrl.href).toBe("http://10.0.0.1:5000/ctl/IPConn");
    expect(parseDescription(desc("http://80.1.1.1/ctl"), location)).toBeNull();
  });

  it("a router that floods garbage is waited for only until the time limit", async () => {
    // A fake router on loopback answering every request with random bytes, many times over.
    const router = createSocket("udp4");
    await new Promise<void>((done) => router.bind(0, "127.0.0.1", done));
    router.on("message", (_msg, from) => {
      for (let i = 0; i < 20; i++) router.send(Buffer.from(Array.from({ length: i * 3 }, () => Math.floor(Math.random() * 256))), from.port, from.address);
    });
    const started = Date.now();
    const port = router.address().port;
    await expect(exchange({ gateway: "127.0.0.1", port, request: natpmpRequest(5001, 5001, 60), accept: (d) => parseNatPmp(d, 5001), limitMs: 600, what: "test" })).rejects.toThrow(/no answer/);
    expect(Date.now() - started).toBeLessThan(2000);
    router.close();
    // No router at all: refused or silent, a NatPmpMapper gives up within its limit, never hangs.
    await expect(new NatPmpMapper("127.0.0.1", 300).map({ internalPort: 5001, externalPort: 5001, lifetimeSeconds: 60 })).rejects.toBeInstanceOf(PortMappingError);
  });

  it("a UPnP device that answers SOAP with garbage or huge bodies gives an error, not a crash", async () => {
    const { fetchDescription } = await import("../../peer/reach/igd.js");
    const server = createServer((_req, res) => res.end("x".repeat(200_000)));
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const address = server.address() as { port: number };
    await expect(fetchDescription(new URL(`http://127.0.0.1:${address.port}/d.xml`), 1000)).rejects.toThrow(/too large/);
    server.close();
  });

  it("leases: renewed at half, retried with backoff within what is left, a router's claim clamped", () => {
    expect(renewDelayMs(7200)).toBe(3_600_000);
    expect(renewDelayMs(0)).toBeNull();
    expect(renewDelayMs(1)).toBe(1000);
    expect(retryDelayMs(1, 100_000, 1)).toBe(1000);
    expect(retryDelayMs(10, 100_000, 1)).toBe(50_000);
    expect(retryDelayMs(3, 2000, 1)).toBe(1000);
    expect(clampLease(4_000_000_000)).toBe(86_400);
    expect(clampLease(0)).toBe(2);
    expect(clampLease(Number.NaN)).toBe(7200);
  });
});
