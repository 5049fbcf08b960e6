import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { Socket } from "node:net";
import { mintRelayToken, relayTokenKey } from "../../common/relay-token.js";
import { type OneSocketAgent } from "../../peer/connect/one-socket-agent.js";
import { relayConnect } from "../../peer/connect/relay-client.js";
import { Relay, type RelayOptions } from "../../peer/connect/relay-server.js";

/**
 * A relay on a loopback address of its own (127.0.91.1), the way a daemon run with `--relay` hosts it: an
 * HTTP server whose `upgrade` event goes to Relay.handleUpgrade. Sharers dial it from 127.0.91.2,
 * downloaders from 127.0.91.3, strangers from 127.0.91.4 and up. Its token key is RELAY_TOKEN_KEY: token()
 * mints what a tracker would hand out for it.
 */

export const RELAY_IP = "127.0.91.1";
export const SHARER_IP = "127.0.91.2";
export const DOWNLOADER_IP = "127.0.91.3";
export const STRANGER_IP = "127.0.91.4";

/** The relay's token key, as the tracker derives it from the key the relay offers itself with. */
export const RELAY_TOKEN_KEY = await relayTokenKey("test-relay-key-0123456789abcdef");

export interface RelayHost {
  relay: Relay;
  port: number;
  close(): Promise<void>;
}

export async function startRelay(options: Partial<RelayOptions> = {}): Promise<RelayHost> {
  const relay = new Relay({ tokenKey: RELAY_TOKEN_KEY, ...options });
  const server: Server = createServer((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  server.on("upgrade", (req, socket, head) => {
    if (!relay.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, RELAY_IP, resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  let closing: Promise<void> | null = null;
  return {
    relay,
    port,
    close: () =>
      (closing ??= (async () => {
        relay.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })()),
  };
}

/** A token the tracker minted for this relay, just now. */
export const token = (): Promise<string> => mintRelayToken(RELAY_TOKEN_KEY, Date.now());

/**
 * Both sides of a pair through `host`: the sharer's socket handed to `serve` (its public server), and the
 * downloader's socket returned. Every socket made is in `sockets`, for the test's teardown.
 */
export async function relayPair(host: RelayHost, serve: (socket: Socket) => void, sockets: Set<Socket>, given?: string): Promise<Socket> {
  const secret = given ?? (await token());
  const [sharer, downloader] = await Promise.all([
    relayConnect({ ip: RELAY_IP, port: host.port, token: secret, role: "accept", localAddress: SHARER_IP, timeoutMs: 5000 }),
    relayConnect({ ip: RELAY_IP, port: host.port, token: secret, role: "connect", localAddress: DOWNLOADER_IP, timeoutMs: 5000 }),
  ]);
  sockets.add(sharer);
  sockets.add(downloader);
  serve(sharer);
  return downloader;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A request over the downloader's relayed socket, as a download would send it (the agent never dials). */
export function get(agent: OneSocketAgent, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: RELAY_IP, path, method: options.method ?? "GET", headers: options.headers ?? {} }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (part: Buffer) => parts.push(part));
      res.on("error", reject);
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Resolves once the socket is closed (at once if it is). */
export function closedSocket(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once("close", () => resolve()));
}

export interface RawAnswer {
  status: number;
  /** The head and the body, as text. */
  text: string;
}

/**
 * Writes raw bytes on a socket and reads one HTTP answer (its head and Content-Length body); null when the
 * socket closed without one. For requests no HTTP client would send.
 */
export function exchange(socket: Socket, bytes: string | Buffer, timeoutMs = 5000): Promise<RawAnswer | null> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const done = (answer: RawAnswer | null): void => {
      clearTimeout(timer);
      socket.removeListener("data", onData);
      socket.removeListener("close", onClose);
      resolve(answer);
    };
    const parse = (): RawAnswer | null => {
      const end = received.indexOf("\r\n\r\n");
      if (end === -1) return null;
      const head = received.subarray(0, end).toString("latin1");
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? "0");
      if (received.length < end + 4 + length) return null;
      return { status: Number(head.slice(9, 12)), text: received.subarray(0, end + 4 + length).toString("utf8") };
    };
    const onData = (data: Buffer): void => {
      received = Buffer.concat([received, data]);
      const answer = parse();
      if (answer !== null) done(answer);
    };
    const onClose = (): void => done(parse());
    const timer = setTimeout(() => {
      socket.removeListener("data", onData);
      socket.removeListener("close", onClose);
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("data", onData);
    socket.on("close", onClose);
    socket.write(bytes);
  });
}

/** Waits for a condition polled every 20 ms; fails after `ms`. */
export async function until(condition: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !condition(); ) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
