import type { IncomingMessage, ServerResponse } from "node:http";
import { hostPort, normalizeIp } from "../../common/ip.js";
import type { ExchangedPeer, ExchangeLedger } from "../swarm/exchange-ledger.js";
import { sendJson } from "./http-reply.js";

/**
 * The public server's side of peer exchange: who downloads chunks from us (the connection's address and the
 * public port the request states in `P2P-Port`), and the `GET /v1/files/{sha1}/peers` reply.
 */

/** The header a daemon's chunk requests carry: the public port it serves on, so that others can list it. */
export const PORT_HEADER = "p2p-port";

/** How many peers one `/peers` reply lists at most. */
export const MAX_LISTED = 50;

export interface ExchangeHooks {
  /** A peer took a whole chunk of `sha1` from us. */
  served(sha1: string, ip: string, port: number): void;
  /** Peers of `sha1` to list, at most `max`, without `except` (host:port): the asker itself. */
  peers(sha1: string, max: number, except: string | undefined): ExchangedPeer[];
}

/** The hooks over a daemon's ledger, on the wall clock. */
export function ledgerHooks(ledger: ExchangeLedger): ExchangeHooks {
  return {
    served: (sha1, ip, port) => ledger.record(sha1, ip, port, Date.now()),
    peers: (sha1, max, except) => ledger.list(sha1, Date.now(), max, except),
  };
}

function remoteIp(req: IncomingMessage): string | null {
  const address = req.socket.remoteAddress;
  return address === undefined ? null : normalizeIp(address);
}

function statedPort(req: IncomingMessage): number | null {
  const raw = req.headers[PORT_HEADER];
  if (typeof raw !== "string" || !/^\d{1,5}$/.test(raw)) return null;
  const port = Number(raw);
  return port >= 1 && port <= 65535 ? port : null;
}

/** The asker as host:port when it stated its port, to leave it out of its own answer. */
function askerKey(req: IncomingMessage): string | undefined {
  const ip = remoteIp(req);
  const port = statedPort(req);
  return ip === null || port === null ? undefined : hostPort(ip, port);
}

/** Records the downloader once the chunk has been sent whole; one that stated no port is not listed. */
export function noteDownloader(req: IncomingMessage, res: ServerResponse, sha1: string, hooks: ExchangeHooks): void {
  const ip = remoteIp(req);
  const port = statedPort(req);
  if (ip === null || port === null || req.method !== "GET") return;
  // Only a chunk sent whole counts: a refusal (410, 416) finishes a reply too.
  res.once("finish", () => {
    if (res.statusCode === 200) hooks.served(sha1, ip, port);
  });
}

export function sendPeers(req: IncomingMessage, res: ServerResponse, sha1: string, hooks: ExchangeHooks | undefined): void {
  const peers = hooks?.peers(sha1, MAX_LISTED, askerKey(req)) ?? [];
  res.setHeader("Cache-Control", "no-store");
  sendJson(res, 200, { peers: peers.map(({ ip, port }) => ({ ip, port })) });
}
