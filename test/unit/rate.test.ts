import { describe, expect, it } from "vitest";
import { P2PError } from "../../peer/errors.js";
import { formatRate, parseRate, rateFromJson } from "../../peer/net/rate.js";

const code = (run: () => unknown): string | undefined => {
  try {
    run();
  } catch (error) {
    return error instanceof P2PError ? error.code : "not a P2PError";
  }
  return undefined;
};

describe("rates", () => {
  it("reads binary units, plain bytes, and 0 / unlimited as no limit", () => {
    expect(parseRate("500k")).toBe(512_000);
    expect(parseRate("2M")).toBe(2 * 1024 * 1024);
    expect(parseRate("1.5M")).toBe(1.5 * 1024 * 1024);
    expect(parseRate("2MiB")).toBe(2 * 1024 * 1024);
    expect(parseRate("4 MiB/s")).toBe(4 * 1024 * 1024);
    expect(parseRate("1g")).toBe(1024 ** 3);
    expect(parseRate("1048576")).toBe(1048576);
    expect(parseRate("800k")).toBe(819_200);
    expect(parseRate("0")).toBe(0);
    expect(parseRate("0M")).toBe(0);
    expect(parseRate("unlimited")).toBe(0);
    expect(parseRate(" Unlimited ")).toBe(0);
  });

  it("refuses what is not a rate, the ambiguous kB/MB, and rates too small or too large, as INVALID_RATE", () => {
    for (const bad of ["", "abc", "-1", "2 M B", "1e6", "2MB", "500kB", "0x10", "1.5.2M", "10T", "100", "1023", "1025G"]) {
      expect(code(() => parseRate(bad)), bad).toBe("INVALID_RATE");
    }
    expect(() => parseRate("2MB")).toThrow(/ambiguous.*2M or 2MiB/);
    expect(parseRate("1024")).toBe(1024);
    expect(parseRate("1024G")).toBe(1024 ** 4);
  });

  it("takes numbers or strings from JSON", () => {
    expect(rateFromJson(4_194_304, "uploadRate")).toBe(4_194_304);
    expect(rateFromJson("4M", "uploadRate")).toBe(4_194_304);
    expect(rateFromJson(0, "uploadRate")).toBe(0);
    for (const bad of [1.5, -5, null, true, {}, [], 10]) expect(code(() => rateFromJson(bad, "uploadRate")), JSON.stringify(bad)).toBe("INVALID_RATE");
  });

  it("prints in the units it reads, so that what it prints reads back", () => {
    expect(formatRate(0)).toBe("unlimited");
    expect(formatRate(4 * 1024 * 1024)).toBe("4 MiB/s");
    expect(formatRate(512_000)).toBe("500 KiB/s");
    expect(formatRate(1.5 * 1024 * 1024)).toBe("1.5 MiB/s");
    expect(formatRate(1024 ** 3)).toBe("1 GiB/s");
    for (const rate of [1024, 512_000, 4 * 1024 * 1024, 1.5 * 1024 * 1024, 1024 ** 3]) expect(parseRate(formatRate(rate))).toBe(rate);
  });
});
