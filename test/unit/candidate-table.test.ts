import { describe, expect, it } from "vitest";
import { CandidateTable, sourceKind } from "../../peer/sources/candidate-table.js";

const A = "tracker:http://127.0.50.1:8787";
const B = "tracker:http://127.0.50.2:8787";

describe("the candidate table", () => {
  it("merges two sources' answers by host:port, remembering every source and when", () => {
    const table = new CandidateTable();
    table.merge(A, [{ host: "127.0.50.10", port: 5001, complete: true }, { host: "127.0.50.11", port: 5001, complete: true }], 1000);
    const named = table.merge(B, [{ host: "127.0.50.11", port: 5001, complete: true }, { host: "127.0.50.12", port: 5001, complete: false }], 2000);
    expect(table.size).toBe(3);
    expect(named.map((c) => c.key)).toEqual(["127.0.50.11:5001", "127.0.50.12:5001"]);
    expect(table.get("127.0.50.11:5001")).toMatchObject({ sources: [A, B], firstSeen: 1000, lastSeen: 2000 });
    expect(table.get("127.0.50.10:5001")).toMatchObject({ sources: [A], firstSeen: 1000, lastSeen: 1000 });
    expect(table.get("127.0.50.12:5001")).toMatchObject({ sources: [B], complete: false });
  });

  it("tells ports apart, names a peer once per answer, and lists complete peers first", () => {
    const table = new CandidateTable();
    const named = table.merge(
      A,
      [
        { host: "127.0.50.10", port: 5002, complete: false },
        { host: "127.0.50.10", port: 5001, complete: true },
        { host: "127.0.50.10", port: 5002, complete: false },
      ],
      0,
    );
    expect(named.map((c) => c.key)).toEqual(["127.0.50.10:5001", "127.0.50.10:5002"]);
    expect(table.get("127.0.50.10:5002")!.sources).toEqual([A]);
  });

  it("keys IPv6 peers as the download does, in brackets", () => {
    const table = new CandidateTable();
    expect(table.merge(A, [{ host: "::1", port: 5001, complete: true }], 0)[0]!.key).toBe("[::1]:5001");
  });

  it("a peer a later answer calls complete becomes complete; one never goes back", () => {
    const table = new CandidateTable();
    table.merge(A, [{ host: "127.0.50.10", port: 5001, complete: false }], 0);
    table.merge(B, [{ host: "127.0.50.10", port: 5001, complete: true }], 1);
    table.merge(A, [{ host: "127.0.50.10", port: 5001, complete: false }], 2);
    expect(table.get("127.0.50.10:5001")!.complete).toBe(true);
  });

  it("holds at most its limit: the least recently named gives way, never one of the same answer", () => {
    const table = new CandidateTable(2);
    table.merge(A, [{ host: "127.0.50.10", port: 1, complete: true }], 1);
    table.merge(A, [{ host: "127.0.50.11", port: 1, complete: true }], 2);
    table.merge(B, [{ host: "127.0.50.12", port: 1, complete: true }], 3);
    expect(table.list().map((c) => c.key).sort()).toEqual(["127.0.50.11:1", "127.0.50.12:1"]);
    const named = table.merge(B, [1, 2, 3].map((i) => ({ host: `127.0.51.${i}`, port: 1, complete: true })), 4);
    expect(table.size).toBe(2);
    expect(named.map((c) => c.key)).toEqual(["127.0.51.1:1", "127.0.51.2:1"]);
  });

  it("refuses a limit below one", () => {
    expect(() => new CandidateTable(0)).toThrow(RangeError);
  });

  it("a source's kind is what precedes its first colon", () => {
    expect(sourceKind(A)).toBe("tracker");
    expect(sourceKind("lan")).toBe("lan");
  });
});
