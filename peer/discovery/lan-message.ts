/**
 * The datagrams of LAN discovery (lan.ts), sent to one multicast group of the local network: a sharer's
 * announce of the files it serves, and a downloader's query for one file. Our own group, port and format
 * (JSON with a version), so that BitTorrent clients listening for BEP 14's BT-SEARCH on 239.192.152.143:6771
 * never take ours for theirs, nor we theirs for ours. Pure: bytes in, a message or a reason to ignore out.
 */

/** RFC 2365's IPv4 Local Scope (239.255.0.0/16): routers do not forward it beyond the site; TTL 1 keeps it on the link. */
export const LAN_GROUP = "239.255.80.50";
export const LAN_PORT = 5011;
export const LAN_VERSION = 1;
/** What one datagram may carry: under a 1,500-byte Ethernet MTU less the IP and UDP headers, never fragmented. */
export const MAX_DATAGRAM_BYTES = 1400;
/** Files per announce datagram: with a 16-character id and a 5-digit port, 30 SHA-1s stay under 1,400 bytes. */
export const FILES_PER_ANNOUNCE = 30;

const SHA1 = /^[0-9a-fA-F]{40}$/;
const ID = /^[0-9a-f]{16}$/;

/** "I serve these files on this TCP port": the sender's address is the datagram's source, never the payload's. */
export interface LanAnnounce {
  kind: "announce";
  /** The sender's random id for its lifetime: a daemon ignores its own datagrams when they loop back. */
  id: string;
  port: number;
  files: string[];
}

/** "Who has this file?": the sharers of `want` on the link announce it at once. */
export interface LanQuery {
  kind: "query";
  id: string;
  want: string;
}

export type LanMessage = LanAnnounce | LanQuery;

/** Why a datagram was ignored: too big, not JSON, another version of this format, or a wrong shape. */
export type Ignored = { kind: "ignored"; why: "size" | "json" | "version" | "shape" };

/** The announces for `files`, as many datagrams as they need. */
export function encodeAnnounces(id: string, port: number, files: readonly string[]): Buffer[] {
  const datagrams: Buffer[] = [];
  for (let start = 0; start < files.length; start += FILES_PER_ANNOUNCE) {
    const batch = files.slice(start, start + FILES_PER_ANNOUNCE);
    datagrams.push(Buffer.from(JSON.stringify({ v: LAN_VERSION, id, port, files: batch })));
  }
  return datagrams;
}

export function encodeQuery(id: string, want: string): Buffer {
  return Buffer.from(JSON.stringify({ v: LAN_VERSION, id, want }));
}

function isPort(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 65535;
}

function isSha1(value: unknown): value is string {
  return typeof value === "string" && SHA1.test(value);
}

/**
 * One datagram as a message, or why it is ignored. Fields this version does not know are ignored (a later
 * 1.x may add some); a message both announcing and asking is a wrong shape. SHA-1s come out lowercase,
 * each once.
 */
export function decodeLanMessage(datagram: Uint8Array): LanMessage | Ignored {
  if (datagram.length > MAX_DATAGRAM_BYTES) return { kind: "ignored", why: "size" };
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(datagram));
  } catch {
    return { kind: "ignored", why: "json" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { kind: "ignored", why: "shape" };
  const message = value as Record<string, unknown>;
  if (message["v"] !== LAN_VERSION) return { kind: "ignored", why: typeof message["v"] === "number" ? "version" : "shape" };
  const id = message["id"];
  if (typeof id !== "string" || !ID.test(id)) return { kind: "ignored", why: "shape" };
  const { files, want, port } = message;
  if (files !== undefined && want === undefined) {
    if (!isPort(port) || !Array.isArray(files) || files.length === 0 || !files.every(isSha1)) return { kind: "ignored", why: "shape" };
    return { kind: "announce", id, port, files: [...new Set(files.map((sha1) => sha1.toLowerCase()))] };
  }
  if (want !== undefined && files === undefined) {
    if (!isSha1(want)) return { kind: "ignored", why: "shape" };
    return { kind: "query", id, want: want.toLowerCase() };
  }
  return { kind: "ignored", why: "shape" };
}
