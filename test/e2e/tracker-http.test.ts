import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileStatsReply, PeersReply } from "../../common/wire.js";
import { http, postJson, type RawRequest } from "../helpers/http.js";
import { startTestTracker, type TestTracker } from "../helpers/tracker.js";

const FILE = "0123456789abcdef0123456789abcdef01234567";
const KEY_A = "key-of-peer-a-0123456789";
const KEY_B = "key-of-peer-b-0123456789";
const MANIFEST = "ab".repeat(32);

let tracker: TestTracker;
const url = (path: string): string => `${tracker.url}${path}`;

beforeAll(async () => {
  tracker = await startTestTracker();
});

afterAll(async () => {
  await tracker?.dispose();
});

describe("tracker over HTTP, in workerd under wrangler dev", () => {
  it("answers health", async () => {
    const res = await http(url("/v1/health"));
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ ok: true, storage: "ok" });
  });

  it("lists two peers with the addresses they connected from, and ignores a claimed address", async () => {
    const a = await postJson(
      url(`/v1/files/${FILE.toUpperCase()}/peers`),
      { peerId: "peer-a", port: 5001, key: KEY_A, event: "started", left: 0, ip: "203.0.113.9", file: { name: "a.bin", size: 5, chunkSize: 1048576, manifestId: MANIFEST } },
      "127.0.0.2",
    );
    expect(a.status).toBe(200);
    // `you`: the entry as recorded; a loopback address is never dialled back, so its reachability is unknown.
    expect(a.json<PeersReply>()).toEqual({ interval: 30, peers: [], you: { ip: "127.0.0.2", port: 5001, reachable: null } });
    const b = await postJson(url(`/v1/files/${FILE}/peers`), { peerId: "peer-b", port: 5002, key: KEY_B, event: "started", left: 5 }, "127.0.0.3");
    expect(b.json<PeersReply>().peers).toEqual([{ peerId: "peer-a", ip: "127.0.0.2", port: 5001, complete: true }]);

    const list = await http(url(`/v1/files/${FILE}/peers`));
    expect(list.status).toBe(200);
    const peers = list.json<PeersReply>().peers.sort((x, y) => x.peerId.localeCompare(y.peerId));
    expect(peers).toEqual([
      { peerId: "peer-a", ip: "127.0.0.2", port: 5001, complete: true },
      { peerId: "peer-b", ip: "127.0.0.3", port: 5002, complete: false },
    ]);
    expect((await http(url(`/v1/files/${FILE}/peers?limit=1`))).json<PeersReply>().peers).toHaveLength(1);

    const stats = await http(url(`/v1/files/${FILE}`));
    expect(stats.json<FileStatsReply>()).toEqual({
      sha1: FILE,
      file: { name: "a.bin", size: 5, chunkSize: 1048576, manifestId: MANIFEST },
      complete: 1,
      incomplete: 1,
    });
  });

  it("ignores a CF-Connecting-IP header the client sends (the front sets it, as Cloudflare's edge does)", async () => {
    const file = "3".repeat(40);
    for (const forged of ["198.51.100.7", "127.0.0.99", "::1"]) {
      const res = await http(url(`/v1/files/${file}/peers`), {
        method: "POST",
        headers: { "content-type": "application/json", "cf-connecting-ip": forged, "CF-Connecting-IP": forged, "x-forwarded-for": forged },
        body: JSON.stringify({ peerId: "spoofer", port: 5001, key: KEY_A, left: 0 }),
        localAddress: "127.0.0.4",
      });
      expect(res.status, forged).toBe(200);
    }
    expect((await http(url(`/v1/files/${file}/peers`))).json<PeersReply>().peers).toEqual([{ peerId: "spoofer", ip: "127.0.0.4", port: 5001, complete: true }]);
  });

  it("removes a peer on stopped, with its key only", async () => {
    const file = "1".repeat(40);
    await postJson(url(`/v1/files/${file}/peers`), { peerId: "p", port: 5001, key: KEY_A, left: 0 }, "127.0.0.2");
    const thief = await postJson(url(`/v1/files/${file}/peers`), { peerId: "p", port: 5001, key: KEY_B, event: "stopped", left: 0 }, "127.0.0.9");
    expect(thief.status).toBe(403);
    expect((await http(url(`/v1/files/${file}/peers`))).json<PeersReply>().peers).toHaveLength(1);
    const stop = await postJson(url(`/v1/files/${file}/peers`), { peerId: "p", port: 5001, key: KEY_A, event: "stopped", left: 0 }, "127.0.0.2");
    expect(stop.status).toBe(200);
    const gone = await http(url(`/v1/files/${file}/peers`));
    expect(gone.status).toBe(404);
    expect(gone.json()).toMatchObject({ error: { code: "unknown_file" } });
  });

  const announceBody = { peerId: "peer-x", port: 5001, key: "k".repeat(16), left: 0 };
  const json = (body: unknown): RawRequest => ({
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const announce = `/v1/files/${FILE}/peers`;

  const malformed: Array<[string, string, RawRequest, number, string]> = [
    ["short hash", "/v1/files/abc/peers", json(announceBody), 400, "invalid_hash"],
    ["non-hex hash", `/v1/files/${"z".repeat(40)}/peers`, json(announceBody), 400, "invalid_hash"],
    ["41-char hash", `/v1/files/${"a".repeat(41)}/peers`, json(announceBody), 400, "invalid_hash"],
    ["bad hash on GET peers", "/v1/files/xyz/peers", {}, 400, "invalid_hash"],
    ["bad hash on GET file", "/v1/files/xyz", {}, 400, "invalid_hash"],
    ["bad JSON", announce, json("{not json"), 400, "invalid_json"],
    ["empty body", announce, json(""), 400, "invalid_json"],
    ["JSON array", announce, json([1, 2]), 400, "invalid_body"],
    ["JSON string", announce, json('"hello"'), 400, "invalid_body"],
    ["not UTF-8", announce, { ...json(""), body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }, 400, "invalid_json"],
    ["form content type", announce, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "a=b" }, 415, "unsupported_media_type"],
    ["no content type", announce, { method: "POST", body: JSON.stringify(announceBody) }, 415, "unsupported_media_type"],
    ["huge body", announce, json({ ...announceBody, pad: "x".repeat(100_000) }), 413, "body_too_large"],
    ["port 0", announce, json({ ...announceBody, port: 0 }), 400, "invalid_port"],
    ["port 65536", announce, json({ ...announceBody, port: 65536 }), 400, "invalid_port"],
    ["port as string", announce, json({ ...announceBody, port: "5001" }), 400, "invalid_port"],
    ["missing port", announce, json({ ...announceBody, port: undefined }), 400, "missing_port"],
    ["missing key", announce, json({ ...announceBody, key: undefined }), 400, "missing_key"],
    ["short key", announce, json({ ...announceBody, key: "123" }), 400, "invalid_key"],
    ["key as number", announce, json({ ...announceBody, key: 1234567890123456 }), 400, "invalid_key"],
    ["missing peerId", announce, json({ ...announceBody, peerId: undefined }), 400, "missing_peerId"],
    ["peerId too long", announce, json({ ...announceBody, peerId: "p".repeat(65) }), 400, "invalid_peerId"],
    ["negative left", announce, json({ ...announceBody, left: -5 }), 400, "invalid_left"],
    ["left as float", announce, json({ ...announceBody, left: 0.5 }), 400, "invalid_left"],
    ["unknown event", announce, json({ ...announceBody, event: "paused" }), 400, "invalid_event"],
    ["file not an object", announce, json({ ...announceBody, file: "a.bin" }), 400, "invalid_file"],
    ["file bad manifestId", announce, json({ ...announceBody, file: { name: "a", size: 1, chunkSize: 1048576, manifestId: "x" } }), 400, "invalid_manifestId"],
    ["file negative size", announce, json({ ...announceBody, file: { name: "a", size: -1, chunkSize: 1048576, manifestId: MANIFEST } }), 400, "invalid_size"],
    ["wrong key for a live peer", announce, json({ ...announceBody, peerId: "peer-a", key: "not-the-key-of-a" }), 403, "key_mismatch"],
    ["bad limit", `/v1/files/${FILE}/peers?limit=-3`, {}, 400, "invalid_limit"],
    ["unknown file", `/v1/files/${"e".repeat(40)}/peers`, {}, 404, "unknown_file"],
    ["unknown file stats", `/v1/files/${"e".repeat(40)}`, {}, 404, "unknown_file"],
    ["unknown route", "/v1/nothing", {}, 404, "not_found"],
    ["unknown version", "/v2/health", {}, 404, "not_found"],
    ["root", "/", {}, 404, "not_found"],
    ["DELETE peers", announce, { method: "DELETE" }, 405, "method_not_allowed"],
    ["PUT file", `/v1/files/${FILE}`, { method: "PUT" }, 405, "method_not_allowed"],
    ["POST health", "/v1/health", { method: "POST" }, 405, "method_not_allowed"],
    ["path traversal", "/v1/files/../../etc/passwd", {}, 404, "not_found"],
  ];

  it.each(malformed)("refuses %s", async (_name, path, request, status, code) => {
    const res = await http(url(path), request);
    expect(res.status).toBe(status);
    expect(res.json()).toMatchObject({ error: { code } });
    expect(res.json<{ error: { message: string } }>().error.message.length).toBeGreaterThan(0);
  });

  it("kept working after all of that", async () => {
    expect((await http(url("/v1/health"))).status).toBe(200);
    expect(malformed.length).toBeGreaterThanOrEqual(25);
  });
});

describe("a restarted local tracker", () => {
  it("still lists live peers, and honours a claimed address only when configured to", async () => {
    const file = "2".repeat(40);
    await postJson(url(`/v1/files/${file}/peers`), { peerId: "survivor", port: 5001, key: KEY_A, left: 0 }, "127.0.0.4");
    await tracker.stop();
    tracker = await startTestTracker({ TRUST_CLIENT_IP: "true" }, { persistTo: tracker.persistTo, port: tracker.port });
    const list = await http(url(`/v1/files/${file}/peers`));
    expect(list.status).toBe(200);
    expect(list.json<PeersReply>().peers).toEqual([{ peerId: "survivor", ip: "127.0.0.4", port: 5001, complete: true }]);

    const claimed = await postJson(url(`/v1/files/${file}/peers`), { peerId: "lan", port: 5001, key: KEY_B, left: 0, ip: "::ffff:192.0.2.7" }, "127.0.0.5");
    expect(claimed.status).toBe(200);
    const peers = (await http(url(`/v1/files/${file}/peers`))).json<PeersReply>().peers;
    expect(peers.find((p) => p.peerId === "lan")?.ip).toBe("192.0.2.7");
  });
});
