import { createServer } from "node:net";
import { networkInterfaces } from "node:os";
import { hostPort, normalizeIp } from "../../common/ip.js";
import { Errors } from "../errors.js";

/** This machine's addresses, as listen and dial options need them: which are loopback, which reach out, which exist. */

export function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::";
}

export function isLoopback(host: string): boolean {
  const ip = host === "localhost" ? "127.0.0.1" : normalizeIp(host);
  return ip !== null && (ip.startsWith("127.") || ip === "::1");
}

/** This machine's addresses that another machine may reach: not loopback, not link-local; IPv4 first. */
export function outwardAddresses(ipv4Only: boolean): string[] {
  const found: { address: string; v4: boolean }[] = [];
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      const v4 = entry.family === "IPv4";
      if (entry.internal || (ipv4Only && !v4)) continue;
      // A link-local address needs a zone to be dialled and a peer's URL cannot carry one.
      if (entry.address.startsWith("169.254.") || entry.address.toLowerCase().startsWith("fe80:")) continue;
      found.push({ address: entry.address, v4 });
    }
  }
  return [...found.filter((a) => a.v4), ...found.filter((a) => !a.v4)].map((a) => a.address);
}

/**
 * Refuses, before a server starts (wrangler takes seconds), a listen address that is not this machine's: a typo in
 * it is a usage mistake (exit 2), and the hint lists the addresses there are. Binding decides, not the
 * interface list, which misses addresses on an interface without carrier.
 */
export async function checkListenAddress(host: string, flag: string): Promise<void> {
  const refused = await new Promise<string | null>((done) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    probe.listen(0, host, () => probe.close(() => done(null)));
  });
  if (refused !== "EADDRNOTAVAIL") return;
  const addresses = ["127.0.0.1", ...outwardAddresses(false)].join(", ");
  throw Errors.usage(`${flag} ${host} is not an address of this machine`, `pass as ${flag} one of its addresses (${addresses}), or 0.0.0.0 for all of them`);
}

/**
 * How peers on this machine should reach a tracker listening on host:port. The tracker records the address
 * a peer's connection comes from, and a connection to 127.0.0.1 comes from 127.0.0.1: recorded so, it sends
 * other machines to themselves. A connection to one of this machine's own outward addresses comes from that
 * address, so peers here dial the tracker there: the listen address when it is one, the first outward
 * address when the tracker listens on all of them. `outward` is false when other machines cannot reach it.
 */
function trackerUrlForLocalPeers(host: string, port: number): { url: string; outward: boolean } {
  if (isWildcard(host)) {
    const first = outwardAddresses(host === "0.0.0.0")[0];
    return first === undefined ? { url: `http://127.0.0.1:${port}`, outward: false } : { url: `http://${hostPort(first, port)}`, outward: true };
  }
  return { url: `http://${hostPort(host, port)}`, outward: !isLoopback(host) };
}

/** What to tell the user about who can reach a tracker listening on host:port; `flag` is the option that sets it. */
export function trackerReach(host: string, port: number, flag: string): { url: string; outward: boolean; note: string } {
  const { url, outward } = trackerUrlForLocalPeers(host, port);
  if (outward) {
    // Listening everywhere, the address peers here dial was picked; on a machine with several, say how to pick.
    const picked = isWildcard(host) ? ` (this machine's first address; ${flag} <address> picks another)` : "";
    return { url, outward, note: `other machines reach the tracker at ${url}${picked}: p2p --tracker ${url} download <sha1>` };
  }
  const note = isWildcard(host)
    ? "this machine has no address but loopback, so only it can reach the tracker"
    : `the tracker listens on ${host} only, which other machines cannot reach (to serve them: ${flag} 0.0.0.0, or one of this machine's addresses)`;
  return { url, outward, note };
}
