import { describe, expect, it } from "vitest";
import { addressScope, mayPointAt } from "../../peer/sources/address-scope.js";
import { parsePeersAnswer } from "../../peer/sources/exchange-answer.js";

describe("address scope", () => {
  it("tells loopback, local-network and internet addresses apart", () => {
    expect(["127.0.0.1", "127.9.9.9", "::1"].map(addressScope)).toEqual(["loopback", "loopback", "loopback"]);
    expect(["10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "169.254.1.1", "fd00::1", "fe80::1"].map(addressScope)).toEqual(Array(8).fill("private"));
    expect(["172.32.0.1", "8.8.8.8", "80.100.100.1", "2001:db8::1", "198.18.0.1"].map(addressScope)).toEqual(Array(5).fill("public"));
  });

  it("lets a peer point only at addresses that reach at least as far as its own", () => {
    expect(mayPointAt("80.100.100.1", "127.0.0.1")).toBe(false);
    expect(mayPointAt("80.100.100.1", "192.168.1.7")).toBe(false);
    expect(mayPointAt("80.100.100.1", "81.2.3.4")).toBe(true);
    expect(mayPointAt("192.168.1.7", "192.168.1.8")).toBe(true);
    expect(mayPointAt("192.168.1.7", "127.0.0.1")).toBe(false);
    expect(mayPointAt("127.0.0.2", "127.0.0.3")).toBe(true);
    // What reaches this machine when dialled counts as loopback: `::`, 0.0.0.0, ::127.0.0.1.
    expect(["::", "0.0.0.0", "0.1.2.3", "::7f00:1", "::1:2"].map(addressScope)).toEqual(Array(5).fill("loopback"));
    expect(mayPointAt("80.100.100.1", "::")).toBe(false);
    // Multicast, broadcast and reserved addresses are nobody's, whoever names them.
    for (const to of ["224.0.0.1", "239.255.80.50", "255.255.255.255", "240.0.0.1", "ff02::1"]) expect(mayPointAt("127.0.0.1", to), to).toBe(false);
  });

  it("drops what an internet peer's exchange answer says of loopback and local addresses", () => {
    const body = JSON.stringify({ peers: [{ ip: "127.0.0.1", port: 6379 }, { ip: "192.168.1.1", port: 80 }, { ip: "81.2.3.4", port: 5001 }] });
    expect(parsePeersAnswer(body, "80.100.100.1").map((p) => p.host)).toEqual(["81.2.3.4"]);
    expect(parsePeersAnswer(body, "127.0.0.2").map((p) => p.host)).toEqual(["127.0.0.1", "192.168.1.1", "81.2.3.4"]);
  });
});
