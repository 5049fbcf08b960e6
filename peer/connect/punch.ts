import { connect, createServer, type Socket } from "node:net";
import { ConnectError } from "./connect-error.js";

/**
 * TCP simultaneous open: both peers connect to each other from the ports they told one another (through the
 * tracker), at about the same time. Each side's SYN opens its own router's mapping for the other's, and
 * when the two cross, the kernels make one connection of them (RFC 9293 §3.5). A SYN that arrives before
 * the other side's mapping exists is refused or dropped, so attempts are repeated until the deadline.
 */

/** How long one attempt is held before it is given up and made again: a dropped SYN is retried by the kernel only after 1 s, then 3 s. */
const ATTEMPT_MS = 2000;
/** The pause after a refused attempt: a refusal comes back at once, and an attempt must not spin. */
const RETRY_PAUSE_MS = 100;

export interface PunchTarget {
  /** The local port both this attempt and what we told the tracker use. */
  localPort: number;
  localAddress?: string;
  ip: string;
  port: number;
  /** When to give up, counted from the call. */
  deadlineMs: number;
  signal?: AbortSignal;
  /** How long each attempt is held (tests shorten it). */
  attemptMs?: number;
}

export async function simultaneousOpen(target: PunchTarget): Promise<Socket> {
  const deadline = Date.now() + target.deadlineMs;
  const attemptMs = target.attemptMs ?? ATTEMPT_MS;
  let attempts = 0;
  let last = "no attempt";
  while (Date.now() < deadline) {
    if (target.signal?.aborted === true) throw new ConnectError("CONNECT_ABORTED", "aborted");
    attempts++;
    const outcome = await attempt(target, Math.min(attemptMs, deadline - Date.now()));
    if (typeof outcome !== "string") return outcome;
    last = outcome;
    const pause = Math.min(RETRY_PAUSE_MS * (0.5 + Math.random()), deadline - Date.now());
    if (pause > 0) await sleep(pause, target.signal);
  }
  if (target.signal?.aborted === true) throw new ConnectError("CONNECT_ABORTED", "aborted");
  throw new ConnectError("PUNCH_FAILED", `no connection to ${target.ip}:${target.port} from port ${target.localPort} in ${target.deadlineMs} ms (${attempts} attempts, last: ${last})`);
}

/** One connect, held at most `holdMs` (our own timer: the kernel's SYN retries go on for minutes). Resolves the socket, or why it failed. */
function attempt(target: PunchTarget, holdMs: number): Promise<Socket | string> {
  return new Promise<Socket | string>((resolve) => {
    const socket = connect({
      host: target.ip,
      port: target.port,
      localPort: target.localPort,
      ...(target.localAddress === undefined ? {} : { localAddress: target.localAddress }),
    });
    const onAbort = (): void => done("aborted");
    const timer = setTimeout(() => done("ETIMEDOUT"), holdMs);
    const done = (outcome: string | null): void => {
      clearTimeout(timer);
      target.signal?.removeEventListener("abort", onAbort);
      socket.off("connect", onConnect);
      socket.off("error", onError);
      if (outcome === null) return resolve(socket);
      socket.destroy();
      resolve(outcome);
    };
    function onConnect(): void {
      done(null);
    }
    function onError(error: NodeJS.ErrnoException): void {
      done(error.code ?? error.message);
    }
    socket.once("connect", onConnect);
    socket.once("error", onError);
    target.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * A local port free now, for a punch: the kernel picks one by a listen on port 0, which is then closed. (It
 * may be taken again before it is used; the punch then fails with EADDRINUSE and is retried, or the ladder
 * moves on.)
 */
export function pickLocalPort(localAddress?: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ port: 0, ...(localAddress === undefined ? {} : { host: localAddress }), exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
