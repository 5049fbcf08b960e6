import { request, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { normalizeIp } from "../../common/ip.js";

/**
 * WebSocket upgrades through the local tracker's front (tracker-front.ts): only the rendezvous socket
 * (`GET /v1/peers/{peerId}/socket`, docs/protocol.md §1), with CF-Connecting-IP set to the connection's
 * address as for every other request, then the two connections joined byte for byte. Anything else that
 * asks to upgrade is refused here. The front's connection limits already count these sockets.
 */

const SOCKET_PATH = /^\/v1\/peers\/[A-Za-z0-9-]{1,64}\/socket$/;

/** How long wrangler dev may take to answer the upgrade. */
const UPGRADE_ANSWER_MS = 10_000;

function refuse(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export function passUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, upstreamPort: number, live: Set<Duplex>): void {
  socket.on("error", () => socket.destroy());
  const clientIp = req.socket.remoteAddress;
  if (!SOCKET_PATH.test(req.url ?? "") || req.headers.upgrade?.toLowerCase() !== "websocket" || clientIp === undefined) {
    refuse(socket, "400 Bad Request");
    return;
  }
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && name !== "cf-connecting-ip") headers[name] = value;
  headers["cf-connecting-ip"] = normalizeIp(clientIp) ?? clientIp;
  const upstream = request({ host: "127.0.0.1", port: upstreamPort, method: "GET", path: req.url, headers, agent: false });
  const timer = setTimeout(() => upstream.destroy(new Error("wrangler dev did not answer the upgrade")), UPGRADE_ANSWER_MS);
  socket.once("close", () => upstream.destroy());
  upstream.on("error", () => {
    clearTimeout(timer);
    if (!socket.destroyed) refuse(socket, "503 Service Unavailable");
  });
  upstream.on("response", (answer) => {
    // Refused (403, 426, ...): the answer goes to the client as it is, and the connection ends.
    clearTimeout(timer);
    const parts: Buffer[] = [];
    answer.on("data", (part: Buffer) => parts.push(part));
    answer.on("error", () => socket.destroy());
    answer.on("end", () => {
      const body = Buffer.concat(parts);
      const type = answer.headers["content-type"] ?? "application/json";
      socket.end(`HTTP/1.1 ${answer.statusCode ?? 502} ${answer.statusMessage ?? ""}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString("latin1")}`, "latin1");
    });
  });
  upstream.on("upgrade", (answer, up, upHead) => {
    clearTimeout(timer);
    up.on("error", () => up.destroy());
    if (socket.destroyed) {
      up.destroy();
      return;
    }
    const lines = [`HTTP/1.1 101 ${answer.statusMessage ?? "Switching Protocols"}`];
    for (let i = 0; i + 1 < answer.rawHeaders.length; i += 2) lines.push(`${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}`);
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    if (upHead.length > 0) socket.write(upHead);
    if (head.length > 0) up.write(head);
    live.add(socket);
    socket.once("close", () => {
      live.delete(socket);
      up.destroy();
    });
    up.once("close", () => socket.destroy());
    up.pipe(socket);
    socket.pipe(up);
  });
  upstream.end();
}
