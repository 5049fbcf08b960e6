import type { Socket } from "node:net";
import { ConnectError } from "./connect-error.js";

/**
 * Reads one HTTP head (status or request line and headers) off a socket, bounded in size and in time, and
 * gives back the bytes that came after it with `unshift`, so that whoever reads the socket next (an HTTP
 * server handed the socket) sees them in order. On any failure the socket is destroyed.
 */

const HEAD_END = Buffer.from("\r\n\r\n");

export interface Head {
  /** The first line: `HTTP/1.1 101 Switching Protocols`. */
  line: string;
  /** Header names lower-cased; a repeated header keeps its last value (the handshake has no repeated ones). */
  headers: Map<string, string>;
}

export function readHead(socket: Socket, maxBytes: number, timeoutMs: number): Promise<Head> {
  return new Promise<Head>((resolve, reject) => {
    let parts: Buffer[] = [];
    let length = 0;
    const timer = setTimeout(() => fail(new ConnectError("HANDSHAKE_TIMEOUT", `no answer to the handshake within ${timeoutMs} ms`)), timeoutMs);
    const onError = (error: Error): void => fail(new ConnectError("HANDSHAKE_CLOSED", `connection failed during the handshake: ${error.message}`));
    const onClose = (): void => fail(new ConnectError("HANDSHAKE_CLOSED", "connection closed during the handshake"));
    const onEnd = onClose;
    const stop = (): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
      socket.off("end", onEnd);
    };
    const fail = (error: ConnectError): void => {
      stop();
      socket.destroy();
      reject(error);
    };
    function onData(data: Buffer): void {
      parts.push(data);
      length += data.length;
      const all = parts.length === 1 ? data : Buffer.concat(parts, length);
      parts = [all];
      const end = all.indexOf(HEAD_END);
      if (end < 0 || end + HEAD_END.length > maxBytes) {
        // Looked for in the first maxBytes only: a head that does not end there is too large, whatever follows.
        if (length >= maxBytes) fail(new ConnectError("HANDSHAKE_INVALID", `handshake head larger than ${maxBytes} bytes`));
        return;
      }
      stop();
      // Paused before the rest goes back: the next reader attaches its listeners and resumes (public-server.ts).
      socket.pause();
      const rest = all.subarray(end + HEAD_END.length);
      if (rest.length > 0) socket.unshift(rest);
      const head = parseHead(all.toString("latin1", 0, end));
      if (head === null) {
        socket.destroy();
        reject(new ConnectError("HANDSHAKE_INVALID", "the answer to the handshake is not HTTP"));
        return;
      }
      resolve(head);
    }
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
    socket.on("end", onEnd);
  });
}

/** Null unless every line after the first is a `name: value` header with a token for a name. */
export function parseHead(text: string): Head | null {
  const lines = text.split("\r\n");
  const line = lines[0] ?? "";
  const headers = new Map<string, string>();
  for (const header of lines.slice(1)) {
    const colon = header.indexOf(":");
    const name = header.slice(0, colon);
    if (colon <= 0 || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return null;
    headers.set(name.toLowerCase(), header.slice(colon + 1).trim());
  }
  return { line, headers };
}
