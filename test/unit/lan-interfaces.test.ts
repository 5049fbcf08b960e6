import type { NetworkInterfaceInfo } from "node:os";
import { describe, expect, it } from "vitest";
import { lanHostProblem, lanInterfaces, onLocalNetwork } from "../../peer/discovery/lan-interfaces.js";

function v4(address: string, netmask: string, internal = false): NetworkInterfaceInfo {
  return { address, netmask, family: "IPv4", mac: "00:00:00:00:00:00", internal, cidr: null };
}

const machine: NodeJS.Dict<NetworkInterfaceInfo[]> = {
  lo: [v4("127.0.0.1", "255.0.0.0", true)],
  wlan0: [v4("192.168.1.20", "255.255.255.0"), { address: "fe80::1", netmask: "ffff:ffff:ffff:ffff::", family: "IPv6", mac: "", internal: false, cidr: null, scopeid: 2 }],
  eth0: [v4("10.1.0.5", "255.255.0.0")],
};

describe("the interfaces LAN discovery speaks on", () => {
  it("on 0.0.0.0 and ::, every IPv4 interface but loopback", () => {
    const expected = [
      { name: "eth0", address: "10.1.0.5", network: 0x0a010000, mask: 0xffff0000 },
      { name: "wlan0", address: "192.168.1.20", network: 0xc0a80100, mask: 0xffffff00 },
    ];
    expect(lanInterfaces(machine, "0.0.0.0")).toEqual(expected);
    expect(lanInterfaces(machine, "::")).toEqual(expected);
  });

  it("on one address, the interface that has it (none when none does)", () => {
    expect(lanInterfaces(machine, "192.168.1.20").map((lan) => lan.name)).toEqual(["wlan0"]);
    expect(lanInterfaces(machine, "192.168.9.9")).toEqual([]);
  });

  it("refuses hosts nothing on the LAN reaches, and IPv6 alone", () => {
    expect(lanHostProblem("0.0.0.0")).toBeNull();
    expect(lanHostProblem("::")).toBeNull();
    expect(lanHostProblem("192.168.1.20")).toBeNull();
    expect(lanHostProblem("127.0.0.1")).toMatch(/127\.0\.0\.1/);
    expect(lanHostProblem("2001:db8::1")).toMatch(/IPv4 only/);
    expect(lanHostProblem("example.com")).toMatch(/not an IP address/);
  });

  it("takes datagrams from the local subnets only", () => {
    const lans = lanInterfaces(machine, "0.0.0.0");
    expect(onLocalNetwork("192.168.1.77", lans)).toBe(true);
    expect(onLocalNetwork("::ffff:10.1.200.3", lans)).toBe(true);
    expect(onLocalNetwork("192.168.1.20", lans)).toBe(true);
    expect(onLocalNetwork("192.168.2.77", lans)).toBe(false);
    expect(onLocalNetwork("8.8.8.8", lans)).toBe(false);
    expect(onLocalNetwork("127.0.0.1", lans)).toBe(false);
    expect(onLocalNetwork("fe80::2", lans)).toBe(false);
    expect(onLocalNetwork("nonsense", lans)).toBe(false);
    expect(onLocalNetwork("192.168.1.77", [])).toBe(false);
  });
});
