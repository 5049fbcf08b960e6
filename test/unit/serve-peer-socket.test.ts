import type { Server } from "node:http";
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createPublicServer, servePeerSocket } from "../../peer/server/public-server.js";

/**
 * A socket the public server did not accept (a reversed or punched one) is held to what an accepted one is:
 * the per-address and total caps, the idle and slow-header limits, and its own remote address.
 */
const servers: Array<Server | TcpServer> = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => new Promise<void>((done) => server.close(() => done()))));
});

/** `count` connected pairs from `from` to 127.0.90.1: the far ends (ours to hand over) and the near ends. */
async function pairs(count: number, from = "127.0.90.2"): Promise<Array<{ handed: Socket; client: Socket }>> {
  const arrived: Socket[] = [];
  let wake = (): void => undefined;
  const tcp = createTcpServer((socket) => {
    sockets.push(socket);
    arrived.push(socket);
    wake();
  });
  servers.push(tcp);
  await new Promise<void>((done) => tcp.listen(0, "127.0.90.1", () => done()));
  const port = (tcp.address() as { port: number }).port;
  const clients = Array.from({ length: count }, () => {
    const client = connect({ host: "127.0.90.1", port, localAddress: from });
    client.on("error", () => undefined);
    sockets.push(client);
    return client;
  });
  while (arrived.length < count) await new Promise<void>((done) => (wake = done));
  return clients.map((client, i) => ({ handed: arrived[i]!, client }));
}

function closed(socket: Socket): Promise<void> {
  return new Promise<void>((done) => (socket.destroyed ? done() : socket.once("close", () => done())));
}

describe("servePeerSocket", () => {
  it("answers on the handed socket with the client's real address and the server's idle limit", async () => {
    const server = createPublicServer({ lookup: () => undefined });
    servers.push(server);
    const [pair] = await pairs(1);
    servePeerSocket(server, pair!.handed);
    expect(pair!.handed.timeout).toBe(30_000);
    const answer = new Promise<string>((done) => pair!.client.once("data", (d: Buffer) => done(d.toString())));
    pair!.client.write(`GET /v1/files/${"a".repeat(40)}/have HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(await answer).toMatch(/^HTTP\/1\.1 404 /);
    expect(pair!.handed.remoteAddress).toBe("127.0.90.2");
  });

  it("holds handed sockets to the per-address cap (32) and the total", async () => {
    const server = createPublicServer({ lookup: () => undefined, maxConnections: 34 });
    servers.push(server);
    const one = await pairs(33);
    for (const { handed } of one) servePeerSocket(server, handed);
    // 32 from 127.0.90.2; the 33rd is closed.
    await closed(one[32]!.handed);
    expect(one.slice(0, 32).every(({ handed }) => !handed.destroyed)).toBe(true);
    // Two more from another address make 34, the total: the third is closed.
    const other = await pairs(3, "127.0.90.3");
    for (const { handed } of other) servePeerSocket(server, handed);
    await closed(other[2]!.handed);
    expect(other.slice(0, 2).every(({ handed }) => !handed.destroyed)).toBe(true);
  });

  it("closes a handed socket that never finishes its request headers (10 s)", async () => {
    const server = createPublicServer({ lookup: () => undefined });
    servers.push(server);
    // The slow-header check runs on a listening server's timer, as the daemon's does.
    await new Promise<void>((done) => server.listen(0, "127.0.90.1", () => done()));
    const [pair] = await pairs(1);
    servePeerSocket(server, pair!.handed);
    pair!.client.write("GET /v1/files/x HTTP/1.1\r\nHost: x\r\n");
    const started = Date.now();
    await closed(pair!.handed);
    expect(Date.now() - started).toBeGreaterThan(8000);
    expect(Date.now() - started).toBeLessThan(13_000);
  }, 20_000);
});
