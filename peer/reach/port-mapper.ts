/**
 * How a home router is asked to forward this daemon's public port: one PortMapper per protocol (pcp.ts,
 * natpmp.ts, upnp.ts), tried in turn by port-mapping.ts. Everything a router sends is untrusted: a reply
 * that does not parse, or does not answer what was asked, is ignored or refused, never thrown past here.
 */

export type MappingProtocol = "pcp" | "nat-pmp" | "upnp-igd1" | "upnp-igd2";

/** The names a user gives to choose one (P2P_PORT_MAPPING=upnp, natpmp, pcp). */
export type MapperName = "pcp" | "natpmp" | "upnp";

export interface Mapping {
  protocol: MappingProtocol;
  /** The router that holds the mapping. */
  gateway: string;
  internalPort: number;
  /** The router's public address as it says it; null when it did not say. */
  externalIp: string | null;
  externalPort: number;
  /** Seconds the router grants; 0 for a permanent mapping (some IGD 1 routers grant nothing else). */
  lifetimeSeconds: number;
}

export interface MapRequest {
  internalPort: number;
  /** The external port asked for; the router may grant another. */
  externalPort: number;
  lifetimeSeconds: number;
}

export interface PortMapper {
  readonly name: MapperName;
  /** Asks for a mapping, or renews one (the same request again); rejects with a PortMappingError. */
  map(request: MapRequest): Promise<Mapping>;
  /** Removes a mapping it made; rejects with a PortMappingError. */
  unmap(mapping: Mapping): Promise<void>;
}

export type PortMappingErrorCode = "NO_GATEWAY" | "NO_ANSWER" | "REFUSED" | "BAD_REPLY";

export class PortMappingError extends Error {
  constructor(
    readonly code: PortMappingErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "PortMappingError";
  }
}

export const MappingErrors = {
  noGateway: (why: string) => new PortMappingError("NO_GATEWAY", why),
  noAnswer: (what: string) => new PortMappingError("NO_ANSWER", `${what}: no answer`),
  refused: (what: string, why: string) => new PortMappingError("REFUSED", `${what} refused: ${why}`),
  badReply: (what: string, why: string) => new PortMappingError("BAD_REPLY", `${what}: bad reply (${why})`),
};

/** A router's port number: 1-65535; 0 or anything else is a lie. */
export function validPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 65535;
}
