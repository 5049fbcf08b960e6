import { connect, isIPv6, type Socket } from "node:net";
import { RELAY_TOKEN_PATTERN, RELAY_UPGRADE } from "../../common/rendezvous-wire.js";
import { RelayError } from "./relay-errors.js";
import { upgradeRequest, type RelayRole } from "./relay-upgrade.js";

/**
 * A peer's side of a relay: dial it, present the token and role, and wait for the 101 that says the other
 * peer is there too. The socket that comes back is plain TCP to the relay, ready for HTTP: the sharer
 * (`accept`) serves it with its public server (`server.emit("connection", socket)`), the downloader
 * (`connect`) sends its requests on it.
 */

export interface RelayConnectOptions {
  ip: string;
  port: number;
  token: string;
  role: RelayRole;
  /** Includes the relay's wait for the other peer (up to 10 s): 15 s by default. */
  timeoutMs?: number;
  signal?: AbortSignal;
  localAddress?: string;
}

/** A relay's answer head is a few hundred bytes; one longer is not a relay's. */
const HEAD_LIMIT = 4096;
/** A refusal's JSON body, read (when it comes with the head or soon after) for its reason code. */
const BODY_LIMIT = 4096;
const HEAD_END = Buffer.from("\r\n\r\n");

export function relayConnect(options: RelayConnectOptions): Promise<Socket> {
  const { ip, port, token, role } = options;
  const where = `the relay at ${isIPv6(ip) ? `[${ip}]` : ip}:${port}`;
  return new Promise<Socket>((resolve, reject) => {
    if (options.signal?.aborted === true) {
      reject(new RelayError("RELAY_ABORTED", `connecting to ${where} was given up`));
      return;
    }
    // The token goes into the request head as it is: one from a tracker that is not 48 hex is never sent.
    if (!RELAY_TOKEN_PATTERN.test(token)) {
      reject(new RelayError("RELAY_PROTOCOL", `the relay token for ${where} is not 48 lowercase hex characters`));
      return;
    }
    const socket = connect({ host: ip, port, ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) });
    socket.setNoDelay(true);
    let received = Buffer.alloc(0);
    let refusal: { status: number; retryAfterSec?: number; bodyLength: number; headLength: number } | null = null;
    let settled = false;

    const finish = (error: RelayError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      socket.removeListener("data", onData);
      socket.removeListener("error", onError);
      socket.removeListener("close", onClose);
      if (error !== null) {
        socket.destroy();
        reject(error);
        return;
      }
      resolve(socket);
    };
    const onAbort = (): void => finish(new RelayError("RELAY_ABORTED", `connecting to ${where} was given up`));
    const onError = (error: NodeJS.ErrnoException): void => finish(new RelayError("RELAY_UNREACHABLE", `cannot reach ${where}: ${error.code ?? error.message}`));
    const onClose = (): void => {
      if (refusal !== null) finish(refused(refusal, received));
      else finish(new RelayError("RELAY_UNREACHABLE", `${where} closed the connection before answering`));
    };
    const onData = (data: Buffer): void => {
      received = Buffer.concat([received, data]);
      if (refusal !== null) {
        if (received.length >= refusal.headLength + refusal.bodyLength) finish(refused(refusal, received));
        return;
      }
      const end = received.indexOf(HEAD_END);
      if (end === -1) {
        if (received.length > HEAD_LIMIT) finish(new RelayError("RELAY_PROTOCOL", `${where} sent a head longer than ${HEAD_LIMIT} bytes`));
        return;
      }
      if (end + HEAD_END.length > HEAD_LIMIT) {
        finish(new RelayError("RELAY_PROTOCOL", `${where} sent a head longer than ${HEAD_LIMIT} bytes`));
        return;
      }
      const head = parseHead(received.subarray(0, end).toString("latin1"));
      if (head === null) {
        finish(new RelayError("RELAY_PROTOCOL", `${where} did not answer in HTTP/1.1`));
        return;
      }
      if (head.status === 101) {
        if (head.headers.get("upgrade")?.toLowerCase() !== RELAY_UPGRADE) {
          finish(new RelayError("RELAY_PROTOCOL", `${where} switched to another protocol`));
          return;
        }
        // No byte may be lost: what came behind the 101 is the other peer's first, put back for whoever reads next.
        socket.pause();
        finish(null);
        const rest = received.subarray(end + HEAD_END.length);
        if (rest.length > 0) socket.unshift(rest);
        unpause(socket);
        return;
      }
      const length = Number(head.headers.get("content-length") ?? "0");
      const retry = Number(head.headers.get("retry-after"));
      refusal = {
        status: head.status,
        headLength: end + HEAD_END.length,
        bodyLength: Number.isSafeInteger(length) && length >= 0 && length <= BODY_LIMIT ? length : 0,
        ...(Number.isSafeInteger(retry) && retry >= 0 ? { retryAfterSec: retry } : {}),
      };
      if (received.length >= refusal.headLength + refusal.bodyLength) finish(refused(refusal, received));
    };

    const timeoutMs = options.timeoutMs ?? 15_000;
    const timer = setTimeout(() => {
      if (refusal !== null) finish(refused(refusal, received));
      else finish(new RelayError("RELAY_TIMEOUT", `${where} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
    socket.once("connect", () => socket.write(upgradeRequest(`${isIPv6(ip) ? `[${ip}]` : ip}:${port}`, { token, role })));
  });
}

/**
 * Neither paused nor flowing, as Node's own server leaves a socket after an upgrade: the next 'data' listener
 * (an HTTP server's or client's) starts the flow. `readableFlowing` has a setter; its type says read-only.
 */
function unpause(socket: Socket): void {
  (socket as unknown as { readableFlowing: boolean | null }).readableFlowing = null;
}

interface Head {
  status: number;
  headers: Map<string, string>;
}

function parseHead(text: string): Head | null {
  const [statusLine, ...lines] = text.split("\r\n");
  const match = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine ?? "");
  if (match === null) return null;
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) return null;
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(match[1]), headers };
}

function refused(refusal: { status: number; retryAfterSec?: number; headLength: number; bodyLength: number }, received: Buffer): RelayError {
  let reason = `http_${refusal.status}`;
  let message = `HTTP ${refusal.status}`;
  try {
    const body = JSON.parse(received.subarray(refusal.headLength, refusal.headLength + refusal.bodyLength).toString("utf8")) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === "string" && body.error.code.length <= 64) reason = body.error.code;
    if (typeof body.error?.message === "string" && body.error.message.length <= 256) message = body.error.message;
  } catch {
    // Not our JSON: the status says enough.
  }
  return new RelayError("RELAY_REFUSED", `the relay refused (${reason}): ${message}`, refusal.status, reason, refusal.retryAfterSec);
}
