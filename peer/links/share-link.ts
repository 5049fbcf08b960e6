import { isSha256Hex, normalizeSha1 } from "../../common/ids.js";
import { Errors } from "../errors.js";
import { parsePeerAddress, type PeerEndpoint } from "../sources/peer-address.js";
import { trackerUrlOrNull } from "../tracker-client/tracker-url.js";
import { isIP } from "node:net";
import { hostPort } from "../../common/ip.js";
import { base32Decode, base32Encode } from "./base32.js";

/**
 * A share link: everything a receiver needs in one string, as a magnet URI (docs/protocol.md "Share links"):
 *
 *   magnet:?xt=urn:sha1:<base32 SHA-1>&dn=<name>&xl=<size>&tr=<tracker>&x.pe=<ip:port>&x.mi=<manifest id>
 *
 * `xt=urn:sha1:` is the magnet convention for a file named by the SHA-1 of its bytes, which is what our id
 * is (base32, as Gnutella clients write it; 40 hex characters are accepted too). BitTorrent clients look for
 * `urn:btih:` and never take it for a torrent. `x.mi` is our own: the SHA-256 of the file's manifest, so that
 * a download checks the chunk list it is given without asking any tracker.
 */
export interface ShareLink {
  sha1: string;
  name?: string;
  size?: number;
  trackers: string[];
  peers: PeerEndpoint[];
  manifestId?: string;
}

/** What a link may carry at most: a longer one is refused whole, not cut. */
export const LINK_LIMITS = { chars: 8192, trackers: 10, peers: 20, name: 1024 } as const;

/**
 * The link's text. It carries at most the first LINK_LIMITS trackers and peers (a daemon may have more
 * trackers), so that every link made here reads back; a name too long is left out (the manifest has it).
 */
export function formatShareLink(link: ShareLink): string {
  const parts = [`xt=urn:sha1:${base32Encode(Buffer.from(link.sha1, "hex"))}`];
  if (link.name !== undefined && link.name.length > 0 && link.name.length <= LINK_LIMITS.name) parts.push(`dn=${encodeURIComponent(link.name)}`);
  if (link.size !== undefined) parts.push(`xl=${link.size}`);
  for (const tracker of link.trackers.slice(0, LINK_LIMITS.trackers)) parts.push(`tr=${encodeURIComponent(tracker)}`);
  for (const peer of link.peers.slice(0, LINK_LIMITS.peers)) parts.push(`x.pe=${encodeURIComponent(hostPort(peer.host, peer.port))}`);
  if (link.manifestId !== undefined) parts.push(`x.mi=${link.manifestId}`);
  return `magnet:?${parts.join("&")}`;
}

/** Whether the text is meant as a link rather than a bare SHA-1 (so that its errors can say the right thing). */
export function looksLikeLink(text: string): boolean {
  return /^magnet:/i.test(text.trim());
}

const HINT = "a share link is what `p2p share` or `p2p link <sha1>` prints: magnet:?xt=urn:sha1:...";

/**
 * Reads a link; every part is checked, and anything wrong (a tracker that is not http(s), a peer that is
 * not an IP and port, a list too long) refuses the whole link with an INVALID_LINK error naming the part.
 * Parameters it does not know are ignored, as the magnet convention asks.
 */
export function parseShareLink(raw: string): ShareLink {
  const text = raw.trim();
  const bad = (what: string) => Errors.invalidLink(`the share link is not valid: ${what}`, HINT);
  if (text.length > LINK_LIMITS.chars) throw bad(`it is ${text.length} characters long (at most ${LINK_LIMITS.chars})`);
  if (!/^magnet:\?/i.test(text)) throw bad("it does not start with magnet:?");
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(text.slice(text.indexOf("?") + 1));
  } catch {
    throw bad("it cannot be read as a query");
  }
  let sha1: string | null = null;
  for (const xt of params.getAll("xt")) {
    const match = /^urn:sha1:([A-Za-z2-7]{32}|[0-9a-fA-F]{40})$/.exec(xt);
    if (match === null) continue;
    const id = match[1]!;
    const decoded = id.length === 40 ? normalizeSha1(id) : bytesToHex(base32Decode(id));
    if (decoded === null) throw bad(`xt ${JSON.stringify(xt)} is not a SHA-1`);
    if (sha1 !== null && sha1 !== decoded) throw bad("it names two different files");
    sha1 = decoded;
  }
  if (sha1 === null) throw bad("it has no xt=urn:sha1:<SHA-1> (a BitTorrent magnet link, urn:btih:, is not one of ours)");

  const link: ShareLink = { sha1, trackers: [], peers: [] };
  const name = params.get("dn");
  if (name !== null) {
    if (name.length === 0 || name.length > LINK_LIMITS.name) throw bad("its name (dn) is empty or too long");
    link.name = name;
  }
  const size = params.get("xl");
  if (size !== null) {
    if (!/^\d{1,16}$/.test(size) || !Number.isSafeInteger(Number(size))) throw bad(`its size (xl) ${JSON.stringify(size)} is not a number of bytes`);
    link.size = Number(size);
  }
  const trackers = params.getAll("tr");
  if (trackers.length > LINK_LIMITS.trackers) throw bad(`it names ${trackers.length} trackers (at most ${LINK_LIMITS.trackers})`);
  for (const raw of trackers) {
    const url = trackerUrlOrNull(raw);
    if (url === null) throw bad(`its tracker ${JSON.stringify(raw.slice(0, 200))} is not an http(s) tracker URL`);
    if (linkLocal(new URL(url).hostname.replace(/^\[(.*)\]$/, "$1"))) throw bad(`its tracker ${JSON.stringify(raw)} is at a link-local address`);
    if (!link.trackers.includes(url)) link.trackers.push(url);
  }
  const peers = params.getAll("x.pe");
  if (peers.length > LINK_LIMITS.peers) throw bad(`it names ${peers.length} peers (at most ${LINK_LIMITS.peers})`);
  for (const raw of peers) {
    const peer = parsePeerAddress(raw);
    if (peer === null) throw bad(`its peer (x.pe) ${JSON.stringify(raw.slice(0, 200))} is not IP:port`);
    if (linkLocal(peer.host)) throw bad(`its peer (x.pe) ${JSON.stringify(raw)} is a link-local address (169.254.0.0/16, fe80::/10), where no sharer is and cloud machines keep their metadata service`);
    if (!link.peers.some((p) => p.host === peer.host && p.port === peer.port)) link.peers.push(peer);
  }
  const manifestId = params.get("x.mi");
  if (manifestId !== null) {
    if (!isSha256Hex(manifestId)) throw bad("its manifest id (x.mi) is not 64 hex characters");
    link.manifestId = manifestId.toLowerCase();
  }
  return link;
}

/** 169.254.0.0/16 and fe80::/10: never a sharer's or a tracker's address in a link. */
function linkLocal(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith("169.254.");
  return isIP(host) === 6 && /^fe[89ab][0-9a-f]:/i.test(host);
}

function bytesToHex(bytes: Uint8Array | null): string | null {
  return bytes === null || bytes.length !== 20 ? null : Buffer.from(bytes).toString("hex");
}
