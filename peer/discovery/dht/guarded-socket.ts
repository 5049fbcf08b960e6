import { createSocket, Socket, type RemoteInfo } from "node:dgram";
import { checkIncoming, checkOutgoing, type PacketRules } from "./krpc-check.js";

/**
 * The DHT's UDP socket, with krpc-check.ts's checks on both ways. The DHT library is handed this socket (its
 * `socket` option) and uses it as any: its message handler is moved behind the incoming check once it has
 * registered it (`guardIncoming`), and `send` checks each datagram before it leaves.
 */

export interface PacketCounts {
  /** Datagrams dropped on arrival (garbage, out of reach, queries to a read-only node). */
  dropped: number;
  /** Datagrams that passed the checks and still made the library throw. */
  failed: number;
  /** Datagrams the DHT wanted to send out of reach, or answers of a read-only node: never sent. */
  refused: number;
  lastDrop: string | null;
}

type SendCallback = (error: Error | null, bytes: number) => void;

export function guardedSocket(rules: PacketRules, counts: PacketCounts): Socket {
  const socket = createSocket({ type: "udp4" });
  // The library calls send(buffer, offset, length, port, address, callback); Node itself, sending what was
  // queued while the socket bound, calls send([buffers], port, address, callback).
  const send = (data: Buffer | Buffer[], ...rest: unknown[]): void => {
    const long = typeof rest[1] === "number";
    const [port, address, callback] = (long ? rest.slice(2) : rest) as [number, string, SendCallback | undefined];
    const whole = Array.isArray(data) ? Buffer.concat(data) : long ? data.subarray(rest[0] as number, (rest[0] as number) + (rest[1] as number)) : data;
    const checked = checkOutgoing(whole, address, rules);
    if (checked === null) {
      counts.refused += 1;
      if (callback !== undefined) process.nextTick(callback, new Error(`not sent to ${address}: out of the DHT's reach`), 0);
      return;
    }
    // Looked up at each send, not kept: a test that watches Socket.prototype.send sees every datagram.
    (Socket.prototype.send as (this: Socket, msg: Buffer, port: number, address: string, callback?: SendCallback) => void).call(socket, checked, port, address, callback);
  };
  Object.defineProperty(socket, "send", { value: send, configurable: true });
  return socket;
}

/** Puts every message handler registered so far behind the incoming check. */
export function guardIncoming(socket: Socket, rules: PacketRules, counts: PacketCounts): void {
  const handlers = socket.listeners("message") as Array<(packet: Buffer, from: RemoteInfo) => void>;
  socket.removeAllListeners("message");
  socket.on("message", (packet: Buffer, from: RemoteInfo) => {
    const verdict = checkIncoming(packet, from.address, rules);
    if ("drop" in verdict) {
      counts.dropped += 1;
      counts.lastDrop = verdict.drop;
      return;
    }
    for (const handler of handlers) {
      try {
        handler.call(socket, verdict.pass, from);
      } catch (error) {
        // Never the daemon's end: a packet the checks let through and the library cannot take is one lost.
        counts.failed += 1;
        counts.lastDrop = `the DHT library failed on a packet: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
  });
}
