import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { exchange } from "./udp-exchange.js";
import { localAddressTowards } from "./gateway.js";
import { MappingErrors, PortMappingError, validPort, type Mapping, type MapRequest, type PortMapper } from "./port-mapper.js";

/**
 * PCP (RFC 6887), the MAP opcode only: NAT-PMP's successor on the same UDP port 5351, which also carries
 * IPv6. No npm package speaks it; a MAP request and its reply are 60 bytes each. A mapping is renewed with
 * the same nonce (§11.2) and removed with lifetime 0.
 */

const VERSION = 2;
const OP_MAP = 1;
const TCP = 6;
const MESSAGE_BYTES = 60;
const RESULTS = [
  "success",
  "unsupported version",
  "not authorized",
  "malformed request",
  "unsupported opcode",
  "unsupported option",
  "malformed option",
  "network failure",
  "no resources",
  "unsupported protocol",
  "user over quota",
  "cannot provide external",
  "address mismatch",
  "excessive remote peers",
];

/** An IPv4 address as PCP carries it: IPv4-mapped IPv6 (::ffff:a.b.c.d), 16 bytes. */
function mapped(ipv4: string): Buffer {
  const bytes = Buffer.alloc(16);
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  ipv4.split(".").forEach((part, i) => (bytes[12 + i] = Number(part)));
  return bytes;
}

export function mapRequest(clientIp: string, nonce: Buffer, internalPort: number, externalPort: number, lifetimeSeconds: number): Buffer {
  const message = Buffer.alloc(MESSAGE_BYTES);
  message.writeUInt8(VERSION, 0);
  message.writeUInt8(OP_MAP, 1);
  message.writeUInt32BE(lifetimeSeconds, 4);
  mapped(clientIp).copy(message, 8);
  nonce.copy(message, 24, 0, 12);
  message.writeUInt8(TCP, 36);
  message.writeUInt16BE(internalPort, 40);
  message.writeUInt16BE(externalPort, 42);
  // Suggested external address: ::ffff:0.0.0.0, "any" (§11.1); a router checks a non-zero one against its own.
  mapped("0.0.0.0").copy(message, 44);
  return message;
}

export interface PcpGrant {
  externalIp: string;
  externalPort: number;
  lifetimeSeconds: number;
}

/**
 * The reply to a MAP request with this nonce and internal port, a refusal, or null when the datagram is not
 * one (another nonce, another opcode, too short). A NAT-PMP-only router answers version 2 with its own
 * "unsupported version": a refusal too, so that the caller falls back to NAT-PMP at once.
 */
export function parseMapReply(datagram: Buffer, nonce: Buffer, internalPort: number): PcpGrant | PortMappingError | null {
  if (datagram.length >= 4 && datagram.readUInt8(0) === 0 && datagram.readUInt16BE(2) === 1) {
    return MappingErrors.refused("PCP", "the router speaks NAT-PMP only");
  }
  if (datagram.length < MESSAGE_BYTES || datagram.readUInt8(0) !== VERSION || datagram.readUInt8(1) !== 0x80 + OP_MAP) return null;
  const result = datagram.readUInt8(3);
  if (result === 1) return MappingErrors.refused("PCP", RESULTS[1]!);
  if (!datagram.subarray(24, 36).equals(nonce.subarray(0, 12)) || datagram.readUInt16BE(40) !== internalPort) return null;
  if (result !== 0) return MappingErrors.refused("PCP", RESULTS[result] ?? `result code ${result}`);
  if (datagram.readUInt8(36) !== TCP) return MappingErrors.badReply("PCP", "another protocol");
  const lifetimeSeconds = datagram.readUInt32BE(4);
  const externalPort = datagram.readUInt16BE(42);
  const address = datagram.subarray(44, 60);
  const isV4 = address.subarray(0, 10).every((b) => b === 0) && address[10] === 0xff && address[11] === 0xff;
  const externalIp = isV4
    ? [...address.subarray(12, 16)].join(".")
    : (address.toString("hex").match(/.{4}/g) ?? []).map((g) => g.replace(/^0+(?=.)/, "")).join(":");
  if (isIP(externalIp) === 0) return MappingErrors.badReply("PCP", "external address");
  return { externalIp, externalPort, lifetimeSeconds };
}

export class PcpMapper implements PortMapper {
  readonly name = "pcp";
  /** One nonce per internal port, for the life of the mapper: renewals and the removal reuse it. */
  private readonly nonces = new Map<number, Buffer>();

  constructor(
    private readonly gateway: string,
    private readonly limitMs = 1500,
  ) {}

  private nonce(internalPort: number): Buffer {
    let nonce = this.nonces.get(internalPort);
    if (nonce === undefined) {
      nonce = randomBytes(12);
      this.nonces.set(internalPort, nonce);
    }
    return nonce;
  }

  private async send(internalPort: number, externalPort: number, lifetimeSeconds: number, what: string): Promise<PcpGrant> {
    const clientIp = await localAddressTowards(this.gateway);
    if (clientIp === null || isIP(clientIp) !== 4) throw MappingErrors.noGateway(`no IPv4 route to ${this.gateway}`);
    const nonce = this.nonce(internalPort);
    const reply = await exchange({
      gateway: this.gateway,
      request: mapRequest(clientIp, nonce, internalPort, externalPort, lifetimeSeconds),
      accept: (d) => parseMapReply(d, nonce, internalPort),
      limitMs: this.limitMs,
      what: `PCP ${what} to ${this.gateway}`,
    });
    if (reply instanceof PortMappingError) throw reply;
    return reply;
  }

  async map(request: MapRequest): Promise<Mapping> {
    const grant = await this.send(request.internalPort, request.externalPort, request.lifetimeSeconds, "mapping request");
    if (!validPort(grant.externalPort)) throw MappingErrors.badReply("PCP", `external port ${grant.externalPort}`);
    if (grant.lifetimeSeconds === 0) throw MappingErrors.badReply("PCP", "a mapping with no lifetime");
    return { protocol: "pcp", gateway: this.gateway, internalPort: request.internalPort, ...grant };
  }

  async unmap(mapping: Mapping): Promise<void> {
    await this.send(mapping.internalPort, mapping.externalPort, 0, "mapping removal");
  }
}
