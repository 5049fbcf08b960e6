import { describe, expect, it } from "vitest";
import { TrackerError } from "../../tracker-worker/errors.js";
import { RateLimiter } from "../../tracker-worker/rate-limit.js";
import { parseAnnounce, parseFileId, parseLimit } from "../../tracker-worker/validate.js";

const good = { peerId: "peer-1", port: 5001, key: "k".repeat(16), left: 0 };

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof TrackerError) return err.code;
    throw err;
  }
  return "ok";
}

describe("tracker input validation", () => {
  it("accepts a minimal announce and lowercases ids", () => {
    expect(parseAnnounce(good)).toEqual(good);
    expect(parseFileId("ABCDEF0123456789ABCDEF0123456789ABCDEF01")).toBe("abcdef0123456789abcdef0123456789abcdef01");
    const withFile = parseAnnounce({ ...good, file: { name: "a", size: 1, chunkSize: 1048576, manifestId: "A".repeat(64) } });
    expect(withFile.file?.manifestId).toBe("a".repeat(64));
  });

  it.each([
    [{ ...good, peerId: "" }, "invalid_peerId"],
    [{ ...good, peerId: "x".repeat(65) }, "invalid_peerId"],
    [{ ...good, peerId: "a\nb" }, "invalid_peerId"],
    [{ ...good, port: 0 }, "invalid_port"],
    [{ ...good, port: 70000 }, "invalid_port"],
    [{ ...good, port: "5001" }, "invalid_port"],
    [{ ...good, port: 1.5 }, "invalid_port"],
    [{ ...good, key: "short" }, "invalid_key"],
    [{ ...good, left: -1 }, "invalid_left"],
    [{ ...good, event: "paused" }, "invalid_event"],
    [{ ...good, file: { name: "a", size: 1, chunkSize: 1048576, manifestId: "nothex" } }, "invalid_manifestId"],
    [{ ...good, file: [] }, "invalid_file"],
    [{ port: 1, key: good.key, left: 0 }, "missing_peerId"],
    [[], "invalid_body"],
    [null, "invalid_body"],
  ])("refuses %j with %s", (body, code) => {
    expect(codeOf(() => parseAnnounce(body))).toBe(code);
  });

  it("clamps limit to 200 and refuses non-numbers", () => {
    expect(parseLimit(undefined)).toBe(50);
    expect(parseLimit("500")).toBe(200);
    expect(parseLimit("0")).toBe(0);
    expect(codeOf(() => parseLimit("-1"))).toBe("invalid_limit");
    expect(codeOf(() => parseLimit("ten"))).toBe("invalid_limit");
  });
});

describe("RateLimiter", () => {
  it("lets the limit through, refuses the next, and resets after a minute", () => {
    const limiter = new RateLimiter(3);
    expect([1, 2, 3].map(() => limiter.take("a", 1000))).toEqual([0, 0, 0]);
    expect(limiter.take("a", 1000)).toBe(60);
    expect(limiter.take("b", 1000)).toBe(0);
    expect(limiter.take("a", 61_000)).toBe(0);
  });

  it("is off at 0", () => {
    const limiter = new RateLimiter(0);
    for (let i = 0; i < 1000; i++) expect(limiter.take("a", 0)).toBe(0);
  });
});
