import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { collect, parseListenHost, splitTrackerList, trackerUrls } from "../../peer/cli/options.js";
import { trackerUrlOrNull } from "../../peer/tracker-client/tracker-url.js";

describe("listen addresses", () => {
  it("takes IP literals as they are and localhost as 127.0.0.1, as the README says", () => {
    expect(parseListenHost("0.0.0.0")).toBe("0.0.0.0");
    expect(parseListenHost("::")).toBe("::");
    expect(parseListenHost("127.0.0.2")).toBe("127.0.0.2");
    expect(parseListenHost("localhost")).toBe("127.0.0.1");
  });

  it("refuses names that would need a look-up", () => {
    for (const name of ["example.com", "my-laptop", "", "127.0.0.300"]) expect(() => parseListenHost(name)).toThrow(InvalidArgumentError);
  });
});

describe("tracker URLs", () => {
  it("keeps http and https base URLs, without a trailing slash", () => {
    expect(trackerUrlOrNull("http://127.0.0.1:8787")).toBe("http://127.0.0.1:8787");
    expect(trackerUrlOrNull("http://127.0.0.1:8787/")).toBe("http://127.0.0.1:8787");
    expect(trackerUrlOrNull("https://tracker.example.workers.dev")).toBe("https://tracker.example.workers.dev");
    expect(trackerUrlOrNull("http://[::1]:8787")).toBe("http://[::1]:8787");
  });

  it("refuses what cannot be a tracker's base URL", () => {
    for (const raw of ["127.0.0.1:8787", "ftp://127.0.0.1/", "http://127.0.0.1:99999", "http://h:8787/path", "http://h/?q=1", "http://u:p@h/", "", "http://"]) {
      expect(trackerUrlOrNull(raw), raw).toBeNull();
    }
  });
});

describe("several trackers", () => {
  it("P2P_TRACKER is a comma-separated list; blanks are ignored", () => {
    expect(splitTrackerList("http://127.0.50.1:8787, http://127.0.50.2:8787,,")).toEqual(["http://127.0.50.1:8787", "http://127.0.50.2:8787"]);
    expect(splitTrackerList("http://127.0.50.1:8787")).toEqual(["http://127.0.50.1:8787"]);
    expect(splitTrackerList(" , ")).toEqual([]);
  });

  it("--tracker collects every occurrence in order", () => {
    expect(collect("b", collect("a"))).toEqual(["a", "b"]);
  });

  it("keeps every valid URL in order, once each after normalising", () => {
    expect(trackerUrls(["http://127.0.50.2:8787/", "http://127.0.50.1:8787", "http://127.0.50.2:8787"])).toEqual({ urls: ["http://127.0.50.2:8787", "http://127.0.50.1:8787"] });
  });

  it("names the first value that is not a tracker URL, and an empty list", () => {
    expect(trackerUrls(["http://127.0.50.1:8787", "127.0.50.2:8787", "ftp://x/"])).toEqual({ bad: "127.0.50.2:8787" });
    expect(trackerUrls([])).toEqual({ bad: "" });
  });
});
