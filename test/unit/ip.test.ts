import { describe, expect, it } from "vitest";
import { addressGroup, hostPort, normalizeIp } from "../../common/ip.js";

describe("normalizeIp", () => {
  it.each([
    ["127.0.0.2", "127.0.0.2"],
    [" 10.1.2.3 ", "10.1.2.3"],
    ["::ffff:127.0.0.3", "127.0.0.3"],
    ["::FFFF:7f00:4", "127.0.0.4"],
    ["0:0:0:0:0:ffff:1.2.3.4", "1.2.3.4"],
    ["::1", "::1"],
    ["[::1]", "::1"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["fe80:0:0:0:0:0:0:0", "fe80::"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["1:0:3:4:5:6:7:8", "1:0:3:4:5:6:7:8"],
  ])("%s -> %s", (raw, expected) => {
    expect(normalizeIp(raw)).toBe(expected);
  });

  it.each(["", "1.2.3", "1.2.3.256", "01.2.3.4", "1.2.3.4.5", "::1::2", "1:2:3:4:5:6:7:8:9", "12345::", "g::1", "localhost", "1.2.3.4:80", ":::"])(
    "rejects %j",
    (raw) => {
      expect(normalizeIp(raw)).toBeNull();
    },
  );

  it("brackets IPv6 in host:port", () => {
    expect(hostPort("::1", 5001)).toBe("[::1]:5001");
    expect(hostPort("127.0.0.2", 5001)).toBe("127.0.0.2:5001");
  });
});

describe("addressGroup", () => {
  it("is an IPv4 address itself, and an IPv6 address's /64 whatever its spelling", () => {
    expect(addressGroup("198.51.100.7")).toBe("198.51.100.7");
    expect(addressGroup("::ffff:198.51.100.7")).toBe("198.51.100.7");
    expect(addressGroup("2001:db8:1:2::5")).toBe("2001:db8:1:2::/64");
    expect(addressGroup("2001:0DB8:0001:0002:ffff:1:2:3")).toBe("2001:db8:1:2::/64");
    expect(addressGroup("2001:db8::1")).toBe("2001:db8::/64");
    expect(addressGroup("2001:db8:1:3::5")).not.toBe(addressGroup("2001:db8:1:2::5"));
    expect(addressGroup("unknown")).toBe("unknown");
  });
});
