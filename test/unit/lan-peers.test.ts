import { describe, expect, it } from "vitest";
import { LanPeers } from "../../peer/discovery/lan-peers.js";

const F = "f".repeat(40);
const G = "e".repeat(40);
const limits = { ttlMs: 1000, total: 10, perSender: 4, perFind: 3 };

describe("the peers heard on the LAN", () => {
  it("finds a file's peers, most recently heard first, until they expire", () => {
    const table = new LanPeers(limits);
    expect(table.heard("10.0.0.2", 5001, [F, G], 0)).toEqual([F, G]);
    table.heard("10.0.0.3", 5001, [F], 100);
    expect(table.peers(F, 500)).toEqual([
      { host: "10.0.0.3", port: 5001, complete: false },
      { host: "10.0.0.2", port: 5001, complete: false },
    ]);
    expect(table.peers(F, 1050)).toEqual([{ host: "10.0.0.3", port: 5001, complete: false }]);
    expect(table.peers(F, 1100)).toEqual([]);
    expect(table.counts()).toEqual({ peers: 1, files: 1 });
    table.prune(1100);
    expect(table.counts()).toEqual({ peers: 0, files: 0 });
  });

  it("an announce heard again lasts longer; ports of one address are peers of their own", () => {
    const table = new LanPeers(limits);
    table.heard("10.0.0.2", 5001, [F], 0);
    table.heard("10.0.0.2", 5002, [F], 0);
    table.heard("10.0.0.2", 5001, [F], 900);
    expect(table.peers(F, 1500)).toEqual([{ host: "10.0.0.2", port: 5001, complete: false }]);
  });

  it("caps what one sender adds, and frees its room as its entries expire", () => {
    const table = new LanPeers(limits);
    const files = Array.from({ length: 6 }, (_, i) => String(i).repeat(40));
    expect(table.heard("10.0.0.66", 5001, files, 0)).toEqual(files.slice(0, 4));
    expect(table.heard("10.0.0.66", 5002, files, 0)).toEqual([]);
    expect(table.refused).toBe(8);
    // Refreshing what it has still works; others are not held back by it.
    expect(table.heard("10.0.0.66", 5001, files.slice(0, 2), 10)).toEqual(files.slice(0, 2));
    expect(table.heard("10.0.0.7", 5001, files, 10)).toEqual(files.slice(0, 4));
    expect(table.heard("10.0.0.66", 5001, [files[5]!], 1005)).toEqual([files[5]]);
  });

  it("caps the whole table, and a look-up's answer", () => {
    const table = new LanPeers(limits);
    for (let host = 1; host <= 5; host++) table.heard(`10.0.0.${host}`, 5001, [F, G], 0);
    expect(table.heard("10.0.0.9", 5001, [F], 0)).toEqual([]);
    expect(table.peers(F, 1)).toHaveLength(3);
    expect(table.counts()).toEqual({ peers: 5, files: 2 });
  });
});
