import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CHUNK_SIZE } from "../../common/constants.js";
import { safeFileName } from "../../peer/download/safe-name.js";
import { P2PError } from "../../peer/errors.js";
import { hashFile } from "../../peer/manifest/hash-file.js";
import { chunkCount, chunkLength, manifestId, parseManifest } from "../../peer/manifest/manifest.js";
import { parseRange } from "../../peer/server/range.js";
import { decodeBitfield, encodeBitfield } from "../../peer/state/download-state.js";
import { MemoryChunkStore } from "../../peer/storage/chunk-store.js";

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function fileOf(bytes: Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "p2p-unit-"));
  dirs.push(dir);
  const path = join(dir, "data.bin");
  await writeFile(path, bytes);
  return path;
}

describe("hashFile", () => {
  it.each([0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 9 * CHUNK_SIZE + 7])("matches node's SHA-1 and per-chunk SHA-256 for %i bytes", async (size) => {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) bytes[i] = (i / 4096) & 0xff;
    const { manifest } = await hashFile(await fileOf(bytes));
    expect(manifest.sha1).toBe(createHash("sha1").update(bytes).digest("hex"));
    expect(manifest.size).toBe(size);
    expect(manifest.chunks).toHaveLength(chunkCount(size, CHUNK_SIZE));
    manifest.chunks.forEach((digest, i) => {
      const chunk = bytes.subarray(i * CHUNK_SIZE, i * CHUNK_SIZE + chunkLength(manifest, i));
      expect(digest).toBe(createHash("sha256").update(chunk).digest("hex"));
    });
  });
});

describe("parseManifest", () => {
  const good = { version: 1 as const, name: "a.bin", size: CHUNK_SIZE + 1, chunkSize: CHUNK_SIZE, sha1: "a".repeat(40), chunks: ["b".repeat(64), "c".repeat(64)] };

  it("accepts a manifest that matches what the tracker recorded", () => {
    expect(parseManifest(good, good.sha1, manifestId(good))).toEqual(good);
  });

  it.each([
    ["another file's SHA-1", { ...good, sha1: "d".repeat(40) }],
    ["a chunk list that does not fit the size", { ...good, chunks: ["b".repeat(64)] }],
    ["a bad chunk hash", { ...good, chunks: ["b".repeat(64), "zz"] }],
    ["another chunk size", { ...good, chunkSize: 4096 }],
    ["a negative size", { ...good, size: -1 }],
    ["no name", { ...good, name: "" }],
    ["not an object", "manifest"],
  ])("refuses %s", (_name, value) => {
    expect(() => parseManifest(value, good.sha1, null)).toThrow(P2PError);
  });

  it("refuses a well-formed manifest whose id is not the tracker's", () => {
    const other = { ...good, chunks: ["e".repeat(64), "c".repeat(64)] };
    expect(() => parseManifest(other, good.sha1, manifestId(good))).toThrow(/not the one the tracker recorded/);
  });
});

describe("safeFileName", () => {
  it.each([
    ["../../x", "x"],
    ["/etc/passwd", "passwd"],
    ["..\\..\\win.ini", "win.ini"],
    ["a\u0000b\u001fc.txt", "abc.txt"],
    ["..", "FALLBACK"],
    ["", "FALLBACK"],
    ["dir/", "FALLBACK"],
  ])("%j -> %j", (name, expected) => {
    expect(safeFileName(name, "FALLBACK")).toBe(expected);
  });

  it("cuts a 10,000-character name to at most 200 bytes", () => {
    expect(Buffer.byteLength(safeFileName("é".repeat(10_000), "x"))).toBeLessThanOrEqual(200);
  });
});

describe("parseRange", () => {
  it.each([
    [undefined, null],
    ["bytes=0-9", { start: 0, end: 9 }],
    ["bytes=5-", { start: 5, end: 99 }],
    ["bytes=-10", { start: 90, end: 99 }],
    ["bytes=90-1000", { start: 90, end: 99 }],
    ["bytes=100-", "unsatisfiable"],
    ["bytes=9-5", "unsatisfiable"],
    ["bytes=0-1,5-6", "unsatisfiable"],
    ["items=0-1", "unsatisfiable"],
    ["bytes=-0", "unsatisfiable"],
  ])("%j of 100 bytes -> %j", (header, expected) => {
    expect(parseRange(header, 100)).toEqual(expected);
  });
});

describe("bitfield and memory store", () => {
  it("round-trips any set of chunks", () => {
    const set = new Set([0, 7, 8, 9, 63, 99]);
    expect(decodeBitfield(encodeBitfield(100, (i) => set.has(i)), 100)).toEqual([...set].sort((a, b) => a - b));
  });

  it("stores chunks at their offsets", async () => {
    const store = new MemoryChunkStore(10, 4);
    await store.write(2, Buffer.from("xy"));
    await store.write(0, Buffer.from("abcd"));
    expect((await store.read(2, 2)).toString()).toBe("xy");
    expect(store.data.subarray(0, 4).toString()).toBe("abcd");
  });
});
