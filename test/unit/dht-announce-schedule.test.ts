import { describe, expect, it } from "vitest";
import { AnnounceSchedule } from "../../peer/discovery/dht/announce-schedule.js";

const timing = { intervalMs: 20 * 60_000, jitter: 0.25, retryMs: 30_000 };
const a = "a".repeat(40);
const b = "b".repeat(40);
const c = "c".repeat(40);

describe("the DHT's announce schedule", () => {
  it("announces a new file at once, then every 15 to 25 minutes (20 give or take a quarter)", () => {
    for (const chance of [0, 0.5, 0.999]) {
      const schedule = new AnnounceSchedule(10, timing, () => chance);
      schedule.add(a, 1000);
      expect(schedule.take(1000, 4)).toEqual([a]);
      expect(schedule.take(1000, 4)).toEqual([]);
      schedule.done(a, true, 2000);
      expect(schedule.announced).toBe(1);
      const wait = 2000 + Math.round(timing.intervalMs * (1 + 0.25 * (2 * chance - 1)));
      expect(schedule.take(wait - 1, 4)).toEqual([]);
      expect(schedule.take(wait, 4)).toEqual([a]);
      expect(wait - 2000).toBeGreaterThanOrEqual(15 * 60_000);
      expect(wait - 2000).toBeLessThanOrEqual(25 * 60_000);
    }
  });

  it("retries a failed announce sooner, backing off up to the interval", () => {
    const schedule = new AnnounceSchedule(10, { ...timing, jitter: 0 });
    schedule.add(a, 0);
    let now = 0;
    const waits: number[] = [];
    expect(schedule.take(now, 1)).toEqual([a]);
    for (let i = 0; i < 8; i++) {
      schedule.done(a, false, now);
      const before = now;
      while (schedule.take(now, 1).length === 0) now += 1000;
      waits.push(now - before);
    }
    expect(waits).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_200_000, 1_200_000]);
    expect(schedule.announced).toBe(0);
  });

  it("hands out at most the number asked for, the most overdue first, none twice while on its way", () => {
    const schedule = new AnnounceSchedule(10, timing);
    schedule.add(b, 20);
    schedule.add(a, 10);
    schedule.add(c, 30);
    expect(schedule.take(100, 2)).toEqual([a, b]);
    expect(schedule.take(100, 2)).toEqual([c]);
    expect(schedule.take(100, 2)).toEqual([]);
    expect(schedule.take(100, -1)).toEqual([]);
  });

  it("holds at most its limit of files; an unpublished file is forgotten, and its late answer changes nothing", () => {
    const schedule = new AnnounceSchedule(2, timing);
    expect(schedule.add(a, 0)).toBe(true);
    expect(schedule.add(b, 0)).toBe(true);
    expect(schedule.add(a, 0)).toBe(true);
    expect(schedule.add(c, 0)).toBe(false);
    expect(schedule.size).toBe(2);
    expect(schedule.take(0, 1)).toEqual([a]);
    schedule.remove(a);
    schedule.done(a, true, 5);
    expect(schedule.has(a)).toBe(false);
    expect(schedule.announced).toBe(0);
    expect(schedule.add(c, 0)).toBe(true);
  });
});
