import { createHash, randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { Dialer } from "../../peer/connect/dialer.js";
import { offerHandshake } from "../../peer/connect/offer-handshake.js";
import { PendingHandshakes } from "../../peer/connect/pending-handshakes.js";
import { describeShare } from "../../peer/daemon/make-share.js";
import { PeerConnection } from "../../peer/download/peer-http.js";
import { hashFile } from "../../peer/manifest/hash-file.js";
import { chunkLength, parseManifest, type Manifest } from "../../peer/manifest/manifest.js";
import { RateLimiter } from "../../peer/net/rate-limiter.js";
import { createPublicServer, servePeerSocket } from "../../peer/server/public-server.js";
import type { Share } from "../../peer/state/share-registry.js";
import { randomFile, tempDir } from "../helpers/files.js";

/**
 * A reversal on loopback, with the real servers: A (the downloader, 127.0.90.1) listens on its public port;
 * B (the sharer, 127.0.90.2) never listens at all. Each connection A's PeerConnection wants is asked of B (here
 * directly, standing in for the tracker's order): B dials A's public port, offers the handshake, and serves
 * the socket with its public server; A gets it from its handshake registry and is the HTTP client on it.
 */

const A_IP = "127.0.90.1";
const B_IP = "127.0.90.2";
const B_PEER = `p2p-${"d".repeat(32)}`;
const limits = { idleMs: 5000, deadlineMs: 15_000 };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((done) => {
    server.close(() => done());
    server.closeAllConnections();
  });
}

async function setUp(size: number): Promise<{
  file: string;
  share: Share;
  bServed: Set<string>;
  connection: (options?: { limiter?: RateLimiter }) => PeerConnection;
  dials: () => number;
  mostOpen: () => number;
  closeAll: () => void;
}> {
  const dir = await tempDir("reversal");
  cleanups.push(dir.remove);
  const file = join(dir.path, "shared.bin");
  await randomFile(file, size);
  const hashed = await hashFile(file);
  const share = describeShare(file, hashed.manifest, hashed.stat);

  const bServed = new Set<string>();
  const bServer = createPublicServer({ lookup: (sha1) => (sha1 === share.sha1 ? share : undefined), onSent: (_bytes, client) => bServed.add(client) });
  cleanups.push(() => closeServer(bServer));

  const pending = new PendingHandshakes();
  cleanups.push(() => pending.close());
  const aServer = createPublicServer({ lookup: () => undefined, onUpgrade: pending.upgrade });
  await new Promise<void>((done) => aServer.listen(0, A_IP, () => done()));
  cleanups.push(() => closeServer(aServer));
  const aPort = (aServer.address() as { port: number }).port;

  const bSockets: Socket[] = [];
  cleanups.push(() => bSockets.forEach((s) => s.destroy()));
  let dialled = 0;
  let open = 0;
  let mostOpen = 0;
  const dialer: Dialer = {
    path: "reversed",
    dial: async (signal) => {
      dialled++;
      const nonce = randomBytes(16).toString("hex");
      const arriving = pending.expect(B_PEER, nonce, 5000, signal);
      // B's side of the order: dial the asker's public port, speak first, then serve.
      const socket = connect({ host: A_IP, port: aPort, localAddress: B_IP });
      bSockets.push(socket);
      mostOpen = Math.max(mostOpen, ++open);
      socket.once("close", () => open--);
      void offerHandshake(socket, { nonce, peerId: B_PEER }, 5000).then((ready) => servePeerSocket(bServer, ready), () => undefined);
      return arriving;
    },
  };
  const connection = (options: { limiter?: RateLimiter } = {}): PeerConnection => {
    // B's address only names it: nothing listens there.
    const peer = new PeerConnection({ ip: B_IP, port: 5001 }, undefined, options, [], dialer);
    cleanups.push(() => peer.close());
    return peer;
  };
  return { file, share, bServed, connection, dials: () => dialled, mostOpen: () => mostOpen, closeAll: () => bSockets.forEach((s) => s.destroy()) };
}

/** Every chunk, each checked against the manifest's SHA-256 before it is kept, in order. */
async function download(peer: PeerConnection, manifest: Manifest, window: number): Promise<Buffer> {
  const parts: Buffer[] = new Array<Buffer>(manifest.chunks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    const target = Buffer.alloc(manifest.chunkSize);
    while (next < manifest.chunks.length) {
      const index = next++;
      const length = chunkLength(manifest, index);
      const body = await peer.chunk(`/v1/files/${manifest.sha1}/chunks/${index}`, target, length, limits).done;
      expect(createHash("sha256").update(body).digest("hex")).toBe(manifest.chunks[index]);
      parts[index] = Buffer.from(body);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return Buffer.concat(parts);
}

describe("a download over reversed connections", () => {
  it("gets the file byte-identical, every chunk verified, through PeerConnection with a Dialer", async () => {
    const size = 5 * 1024 * 1024 + 12_345;
    const { file, share, bServed, connection, dials } = await setUp(size);
    const peer = connection();
    expect(peer.path).toBe("reversed");
    const manifest = parseManifest(JSON.parse((await peer.small(`/v1/files/${share.sha1}/manifest`, limits, 1 << 20)).toString()), share.sha1, share.manifestId);
    const got = await download(peer, manifest, 3);
    expect(got.length).toBe((await stat(file)).size);
    expect(got.equals(await readFile(file))).toBe(true);
    // Upload slots and counts saw A's own address, as on a socket B had accepted.
    expect([...bServed]).toEqual([A_IP]);
    // Keep-alive: a socket per request in flight (and one for the manifest), not one per chunk.
    expect(dials()).toBeLessThanOrEqual(4);
  });

  it("opens at most 4 connections to the peer however many requests are in flight, and dials anew after the peer closes idle ones", async () => {
    const { share, connection, dials, mostOpen, closeAll } = await setUp(6 * 1024 * 1024);
    const peer = connection();
    const manifests = await Promise.all(Array.from({ length: 6 }, () => peer.small(`/v1/files/${share.sha1}/manifest`, limits, 1 << 20)));
    const manifest = parseManifest(JSON.parse(manifests[0]!.toString()), share.sha1, share.manifestId);
    await download(peer, manifest, 8);
    expect(mostOpen()).toBeLessThanOrEqual(4);
    // The sharer closes every connection while they are idle (its keep-alive timeout, a relay's caps): the
    // next requests must neither use nor count sockets that are gone.
    closeAll();
    await new Promise((done) => setTimeout(done, 100));
    const before = dials();
    const again = await download(peer, manifest, 8);
    expect(createHash("sha256").update(again.subarray(0, manifest.chunkSize)).digest("hex")).toBe(manifest.chunks[0]);
    expect(dials()).toBeGreaterThan(before);
    expect(mostOpen()).toBeLessThanOrEqual(4);
  });

  it("holds to the download limit over a reversed connection (paused while in debt)", async () => {
    const { share, connection } = await setUp(2 * 1024 * 1024);
    const limiter = new RateLimiter(2 * 1024 * 1024);
    const peer = connection({ limiter });
    const manifest = parseManifest(JSON.parse((await peer.small(`/v1/files/${share.sha1}/manifest`, limits, 1 << 20)).toString()), share.sha1, share.manifestId);
    const started = Date.now();
    await download(peer, manifest, 1);
    // 2 MiB at 2 MiB/s, less the bucket's first burst: well over half a second, unlike an unlimited loopback.
    expect(Date.now() - started).toBeGreaterThan(500);
  });

  it("fails a chunk with a network fault when no connection comes, within its deadline", async () => {
    const never: Dialer = { path: "punched", dial: (signal) => new Promise((_resolve, reject) => signal?.addEventListener("abort", () => reject(new Error("gave up")))) };
    const peer = new PeerConnection({ ip: B_IP, port: 5001 }, undefined, {}, [], never);
    cleanups.push(() => peer.close());
    const started = Date.now();
    await expect(peer.chunk("/v1/files/x/chunks/0", Buffer.alloc(4), 4, { idleMs: 200, deadlineMs: 300 }).done).rejects.toMatchObject({ kind: "timeout" });
    expect(Date.now() - started).toBeLessThan(2000);
    const failing: Dialer = { path: "relayed", dial: () => Promise.reject(new Error("no relay")) };
    const other = new PeerConnection({ ip: B_IP, port: 5001 }, undefined, {}, [], failing);
    cleanups.push(() => other.close());
    const chunk = other.chunk("/v1/files/x/chunks/0", Buffer.alloc(4), 4, limits).done;
    await expect(chunk).rejects.toMatchObject({ kind: "network" });
    await expect(chunk).rejects.toThrow("no relay");
    const small = other.small("/v1/files/x/manifest", limits, 100);
    await expect(small).rejects.toMatchObject({ kind: "network" });
    await expect(small).rejects.toThrow("no relay");
  });
});
