import { connect } from "cloudflare:sockets";
import { hostPort } from "../common/ip.js";

/**
 * One dial-back: a TCP connection to a peer's address and announced port, a one-line HTTP request, and the
 * first bytes of the answer. Reachable means an HTTP server answered there within `timeoutMs` (any status:
 * a peer answers this path with 404); a refused, silent or non-HTTP port is not. Nothing of the answer is
 * kept; the connection is closed at once.
 */

/** A path no peer serves: the request cannot make a peer do anything but refuse it. */
const PROBE_PATH = "/v1/reachability-check";

export async function dialBack(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  let socket: ReturnType<typeof connect> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  const attempt = async (): Promise<boolean> => {
    socket = connect({ hostname: ip.includes(":") ? `[${ip}]` : ip, port });
    await socket.opened;
    const writer = socket.writable.getWriter();
    await writer.write(new TextEncoder().encode(`GET ${PROBE_PATH} HTTP/1.1\r\nHost: ${hostPort(ip, port)}\r\nConnection: close\r\n\r\n`));
    const reader = (socket.readable as ReadableStream<Uint8Array>).getReader();
    let head = "";
    while (head.length < 8) {
      const { done, value } = await reader.read();
      if (done) break;
      head += new TextDecoder().decode(value);
    }
    return head.startsWith("HTTP/1.");
  };
  try {
    return await Promise.race([attempt().catch(() => false), limit]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    socket?.close().catch(() => undefined);
  }
}
