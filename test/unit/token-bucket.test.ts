import { describe, expect, it } from "vitest";
import { burstFor, sliceFor, TokenBucket } from "../../peer/net/token-bucket.js";

const MiB = 1024 * 1024;

/** Sends as fast as the bucket allows for `ms` (in steps of `slice`) and returns the bytes sent. */
function sendFor(bucket: TokenBucket, slice: number, ms: number, start = 0): { bytes: number; end: number } {
  let now = start;
  let bytes = 0;
  while (now < start + ms) {
    const wait = bucket.take(slice, now);
    if (wait === 0) bytes += slice;
    else now += wait;
  }
  return { bytes, end: now };
}

describe("the token bucket", () => {
  it("lets everything go at once with no limit", () => {
    const bucket = new TokenBucket(0, 0);
    expect(bucket.take(100 * MiB, 0)).toBe(0);
    expect(bucket.charge(100 * MiB, 0)).toBe(0);
    expect(bucket.owed(0)).toBe(0);
  });

  it("holds a sender to its rate over time, plus at most one burst", () => {
    const rate = 4 * MiB;
    const bucket = new TokenBucket(rate, 0);
    const { bytes } = sendFor(bucket, sliceFor(rate), 5000);
    expect(bytes).toBeLessThanOrEqual(5 * rate + burstFor(rate) + sliceFor(rate));
    expect(bytes).toBeGreaterThanOrEqual(5 * rate - sliceFor(rate));
  });

  it("says how long to wait, and takes nothing while it says so", () => {
    const bucket = new TokenBucket(10 * 1024, 0);
    const burst = bucket.burst;
    expect(bucket.take(burst, 0)).toBe(0);
    const wait = bucket.take(1024, 0);
    expect(wait).toBe(100);
    expect(bucket.take(1024, 50)).toBe(50);
    expect(bucket.take(1024, 100)).toBe(0);
  });

  it("lets a piece larger than a burst go once full, leaving a debt", () => {
    const bucket = new TokenBucket(10 * 1024, 0);
    expect(bucket.take(1024 * 1024, 0)).toBe(0);
    expect(bucket.owed(0)).toBeGreaterThan(90_000);
  });

  it("charges what was received and says when the debt is paid", () => {
    const bucket = new TokenBucket(MiB, 0);
    expect(bucket.charge(bucket.burst, 0)).toBe(0);
    expect(bucket.charge(MiB / 2, 0)).toBe(500);
    expect(bucket.owed(250)).toBe(250);
    expect(bucket.owed(500)).toBe(0);
  });

  it("applies a new rate at once, keeping a debt in bytes, and forgets it when the limit goes", () => {
    const bucket = new TokenBucket(MiB, 0);
    bucket.charge(bucket.burst + MiB, 0);
    expect(bucket.owed(0)).toBe(1000);
    bucket.setRate(4 * MiB, 0);
    expect(bucket.owed(0)).toBe(250);
    bucket.setRate(0, 0);
    expect(bucket.owed(0)).toBe(0);
    // Back from no limit: a full bucket, then the new rate.
    bucket.setRate(MiB, 10);
    expect(bucket.take(bucket.burst, 10)).toBe(0);
    expect(bucket.take(1024, 10)).toBeGreaterThan(0);
  });

  it("saves no more than a burst while idle", () => {
    const rate = 2 * MiB;
    const bucket = new TokenBucket(rate, 0);
    const { bytes } = sendFor(bucket, sliceFor(rate), 1000, 60_000);
    expect(bytes).toBeLessThanOrEqual(rate + burstFor(rate) + sliceFor(rate));
  });

  it("moves limited transfers in slices of 1-64 KiB, with a burst of at least two", () => {
    expect(sliceFor(1024)).toBe(1024);
    expect(sliceFor(4 * MiB)).toBe(64 * 1024);
    expect(burstFor(1024)).toBe(2048);
    expect(burstFor(100 * MiB)).toBe(10 * MiB);
  });
});
