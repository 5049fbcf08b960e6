import { createSocket } from "node:dgram";
import { isIP } from "node:net";

/**
 * Finding a UPnP Internet Gateway Device by SSDP: an M-SEARCH multicast to 239.255.255.250:1900, answered by
 * unicast with a LOCATION (the device's description URL). A reply is believed only when that URL is plain
 * http on the very address the reply came from: another machine on the LAN must not be able to send this
 * daemon to fetch an arbitrary URL.
 */

const GROUP = "239.255.255.250";
const SSDP_PORT = 1900;
const TARGETS = ["urn:schemas-upnp-org:device:InternetGatewayDevice:1", "urn:schemas-upnp-org:device:InternetGatewayDevice:2"];
/** Far more than any real reply; a larger datagram is not one. */
const MAX_REPLY_BYTES = 8192;

export function searchMessage(target: string): Buffer {
  return Buffer.from(`M-SEARCH * HTTP/1.1\r\nHOST: ${GROUP}:${SSDP_PORT}\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ${target}\r\n\r\n`);
}

/** The description URL in an SSDP reply from `from`, or null when the reply is not one we can use. */
export function parseSearchReply(datagram: Buffer, from: string): URL | null {
  if (datagram.length > MAX_REPLY_BYTES) return null;
  const lines = datagram.toString("latin1").split("\r\n");
  if (!/^HTTP\/1\.[01] 200\b/.test(lines[0] ?? "")) return null;
  const header = lines.find((line) => /^location:/i.test(line));
  if (header === undefined) return null;
  let url: URL;
  try {
    url = new URL(header.slice(header.indexOf(":") + 1).trim());
  } catch {
    return null;
  }
  if (url.protocol !== "http:" || url.hostname !== from || isIP(from) !== 4 || url.username !== "" || url.password !== "") return null;
  return url;
}

/** The first usable gateway's description URL, or null after `limitMs`. */
export function searchGateway(limitMs: number): Promise<URL | null> {
  return new Promise((resolve) => {
    const socket = createSocket({ type: "udp4", reuseAddr: false });
    let finished = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (url: URL | null): void => {
      if (finished) return;
      finished = true;
      for (const timer of timers) clearTimeout(timer);
      socket.close();
      resolve(url);
    };
    timers.push(setTimeout(() => finish(null), limitMs));
    socket.on("message", (datagram, from) => {
      const url = parseSearchReply(datagram, from.address);
      if (url !== null) finish(url);
    });
    socket.on("error", () => finish(null));
    socket.bind(0, () => {
      const send = (): void => {
        for (const target of TARGETS) socket.send(searchMessage(target), SSDP_PORT, GROUP, () => undefined);
      };
      send();
      // UDP may be lost: once more, well within the limit.
      timers.push(setTimeout(send, Math.min(500, limitMs / 3)));
    });
  });
}
