import { describe, expect, it } from "vitest";
import { normalizeIp } from "../../common/ip.js";
import type { Candidate } from "../../peer/sources/candidate-table.js";
import { familyOfIp, groupByPeer, preferredFamily } from "../../peer/sources/family-preference.js";
import { familiesToAnnounce, localFamilies } from "../../peer/tracker-client/announce-families.js";

function candidate(host: string, peerId?: string, complete = true): Candidate {
  const key = host.includes(":") ? `[${host}]:5001` : `${host}:5001`;
  return { key, host, port: 5001, complete, sources: ["tracker:http://t"], firstSeen: 0, lastSeen: 0, ...(peerId === undefined ? {} : { peerId }) };
}

describe("address families", () => {
  it("normalises a dual-stack socket's IPv4 client to its IPv4 address, and IPv6 to RFC 5952", () => {
    expect(normalizeIp("::ffff:198.19.71.1")).toBe("198.19.71.1");
    expect(normalizeIp("::FFFF:c613:4701")).toBe("198.19.71.1");
    expect(normalizeIp("2001:0db8:0070:0000:0000:0000:0000:0001")).toBe("2001:db8:70::1");
    expect(familyOfIp("::ffff:198.19.71.1")).toBe(4);
    expect(familyOfIp("2001:db8:70::1")).toBe(6);
  });

  it("prefers IPv6 on a machine that has it, and a bound address's own family", () => {
    expect(preferredFamily(true)).toBe(6);
    expect(preferredFamily(false)).toBe(4);
    expect(preferredFamily(true, "198.19.71.1")).toBe(4);
    expect(preferredFamily(false, "2001:db8:70::1")).toBe(6);
    expect(preferredFamily(false, "::")).toBe(4);
  });

  it("makes one peer of a peerId's two addresses, the preferred family first, the other its fallback", () => {
    const v4 = candidate("198.19.71.2", "sharer");
    const v6 = candidate("2001:db8:70::2", "sharer");
    const other = candidate("198.19.71.3", "other");
    const anonymous = candidate("198.19.71.4");
    const six = groupByPeer([v4, other, v6, anonymous], 6);
    expect(six.map((g) => [g.first.host, g.fallbacks.map((f) => f.host)])).toEqual([
      ["2001:db8:70::2", ["198.19.71.2"]],
      ["198.19.71.3", []],
      ["198.19.71.4", []],
    ]);
    expect(groupByPeer([v6, v4], 4).map((g) => [g.first.host, g.fallbacks.map((f) => f.host)])).toEqual([["198.19.71.2", ["2001:db8:70::2"]]]);
    // Without ids nothing is merged: two addresses may be two peers.
    expect(groupByPeer([candidate("198.19.71.2"), candidate("2001:db8:70::2")], 6)).toHaveLength(2);
  });

  it("announces once per family only to a host name with both, from a machine with both", () => {
    const both = { ipv4: true, ipv6: true };
    expect(familiesToAnnounce("tracker.example", ["198.19.71.10", "2001:db8:70::10"], both)).toEqual([4, 6]);
    expect(familiesToAnnounce("tracker.example", ["198.19.71.10"], both)).toEqual([undefined]);
    expect(familiesToAnnounce("tracker.example", ["198.19.71.10", "2001:db8:70::10"], { ipv4: true, ipv6: false })).toEqual([undefined]);
    expect(familiesToAnnounce("198.19.71.10", ["198.19.71.10"], both)).toEqual([undefined]);
    expect(familiesToAnnounce("[2001:db8:70::10]", ["2001:db8:70::10"], both)).toEqual([undefined]);
    // localhost: both families reach this machine, and the tracker there records loopback either way.
    expect(familiesToAnnounce("localhost", ["127.0.0.1", "::1"], both)).toEqual([undefined]);
    // A daemon bound to one address announces from it.
    expect(familiesToAnnounce("tracker.example", ["198.19.71.10", "2001:db8:70::10"], both, "198.19.71.1")).toEqual([undefined]);
  });

  it("counts IPv6 only beyond link-local, and nothing of loopback", () => {
    const lo = { address: "::1", family: "IPv6", internal: true };
    const linkLocal = { address: "fe80::1", family: "IPv6", internal: false };
    expect(localFamilies({ lo: [lo], eth0: [{ address: "198.19.71.1", family: "IPv4", internal: false }, linkLocal] })).toEqual({ ipv4: true, ipv6: false });
    expect(localFamilies({ eth0: [{ address: "2001:db8:70::1", family: 6, internal: false }] })).toEqual({ ipv4: false, ipv6: true });
  });
});
