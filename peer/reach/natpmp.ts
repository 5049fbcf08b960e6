import { exchange } from "./udp-exchange.js";
import { MappingErrors, PortMappingError, validPort, type Mapping, type MapRequest, type PortMapper } from "./port-mapper.js";

/**
 * NAT-PMP (RFC 6886): two 12-byte requests, the router's public address and a TCP mapping, to the default
 * gateway's UDP port 5351. Written here (a page of code) rather than taken from a library: the npm clients
 * either send the lifetime in milliseconds where the RFC says seconds (@achingbrain/nat-port-mapper) or bring
 * a tree of dependencies for it; here every reply field is checked before it is believed.
 */

const VERSION = 0;
const OP_ADDRESS = 0;
const OP_MAP_TCP = 2;
const RESULTS = ["success", "unsupported version", "not authorized", "network failure", "out of resources", "unsupported opcode"];

export function addressRequest(): Buffer {
  return Buffer.from([VERSION, OP_ADDRESS]);
}

export function mapRequest(internalPort: number, externalPort: number, lifetimeSeconds: number): Buffer {
  const message = Buffer.alloc(12);
  message.writeUInt8(VERSION, 0);
  message.writeUInt8(OP_MAP_TCP, 1);
  message.writeUInt16BE(internalPort, 4);
  message.writeUInt16BE(externalPort, 6);
  message.writeUInt32BE(lifetimeSeconds, 8);
  return message;
}

/** A reply's header: null unless it is a NAT-PMP reply to `op`. A non-zero result is a refusal. */
function header(datagram: Buffer, op: number, length: number): { result: number } | null {
  if (datagram.length < length || datagram.readUInt8(0) !== VERSION || datagram.readUInt8(1) !== 128 + op) return null;
  return { result: datagram.readUInt16BE(2) };
}

function refusal(result: number): PortMappingError {
  return MappingErrors.refused("NAT-PMP", RESULTS[result] ?? `result code ${result}`);
}

export function parseAddressReply(datagram: Buffer): { externalIp: string } | PortMappingError | null {
  const head = header(datagram, OP_ADDRESS, 12);
  if (head === null) return null;
  if (head.result !== 0) return refusal(head.result);
  const externalIp = [...datagram.subarray(8, 12)].join(".");
  // 0.0.0.0 is the RFC's "no public address yet".
  if (externalIp === "0.0.0.0") return MappingErrors.refused("NAT-PMP", "the router has no public address");
  return { externalIp };
}

export function parseMapReply(datagram: Buffer, internalPort: number): { externalPort: number; lifetimeSeconds: number } | PortMappingError | null {
  const head = header(datagram, OP_MAP_TCP, 16);
  if (head === null) return null;
  if (datagram.readUInt16BE(8) !== internalPort) return null;
  if (head.result !== 0) return refusal(head.result);
  const externalPort = datagram.readUInt16BE(10);
  const lifetimeSeconds = datagram.readUInt32BE(12);
  if (!validPort(externalPort)) return MappingErrors.badReply("NAT-PMP", `external port ${externalPort}`);
  return { externalPort, lifetimeSeconds };
}

async function ask<T>(gateway: string, request: Buffer, parse: (d: Buffer) => T | PortMappingError | null, limitMs: number, what: string): Promise<T> {
  const reply = await exchange({ gateway, request, accept: parse, limitMs, what: `NAT-PMP ${what} to ${gateway}` });
  if (reply instanceof PortMappingError) throw reply;
  return reply;
}

export class NatPmpMapper implements PortMapper {
  readonly name = "natpmp";

  constructor(
    private readonly gateway: string,
    private readonly limitMs = 1500,
  ) {}

  async map(request: MapRequest): Promise<Mapping> {
    const { externalIp } = await ask(this.gateway, addressRequest(), parseAddressReply, this.limitMs, "address request");
    const granted = await ask(
      this.gateway,
      mapRequest(request.internalPort, request.externalPort, request.lifetimeSeconds),
      (d) => parseMapReply(d, request.internalPort),
      this.limitMs,
      "mapping request",
    );
    if (granted.lifetimeSeconds === 0) throw MappingErrors.badReply("NAT-PMP", "a mapping with no lifetime");
    return { protocol: "nat-pmp", gateway: this.gateway, internalPort: request.internalPort, externalIp, ...granted };
  }

  async unmap(mapping: Mapping): Promise<void> {
    // RFC 6886 §3.4: lifetime 0 and external port 0 delete the mapping of that internal port.
    await ask(this.gateway, mapRequest(mapping.internalPort, 0, 0), (d) => parseMapReply(d, mapping.internalPort) ?? null, this.limitMs, "mapping removal").catch(
      (error: unknown) => {
        // The deletion's reply carries external port 0, which parseMapReply calls a bad reply: that is the success.
        if (error instanceof PortMappingError && error.code === "BAD_REPLY") return;
        throw error;
      },
    );
  }
}
