import { createSocket } from "node:dgram";
import { MappingErrors } from "./port-mapper.js";

/**
 * One request and its reply over UDP, as NAT-PMP and PCP do it (RFC 6886 §3.1, RFC 6887 §8.1.1): sent again
 * after 250 ms, then 500 ms, ... until `limitMs` is up. Only a datagram from the router's own address and port
 * that `accept` turns into a value counts; anything else (a stray or lying datagram) is dropped and the wait
 * goes on. The whole exchange is bounded by `limitMs`, whatever arrives.
 */

export const ROUTER_PORT = 5351;

export interface UdpExchange<T> {
  gateway: string;
  port?: number;
  request: Buffer;
  /** The reply's value, or null when the datagram is not an answer to this request. */
  accept: (datagram: Buffer) => T | null;
  limitMs: number;
  /** For messages: "NAT-PMP mapping request to 10.80.1.1". */
  what: string;
}

export function exchange<T>(options: UdpExchange<T>): Promise<T> {
  const port = options.port ?? ROUTER_PORT;
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    let delay = 250;
    let resend: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = (error: Error | null, value?: T): void => {
      if (finished) return;
      finished = true;
      clearTimeout(resend);
      clearTimeout(limit);
      socket.close();
      if (error === null) resolve(value as T);
      else reject(error);
    };
    const limit = setTimeout(() => finish(MappingErrors.noAnswer(options.what)), options.limitMs);
    const send = (): void => {
      socket.send(options.request, port, options.gateway, () => undefined);
      resend = setTimeout(send, delay);
      delay *= 2;
    };
    socket.on("message", (datagram, from) => {
      if (from.address !== options.gateway || from.port !== port) return;
      let value: T | null;
      try {
        value = options.accept(datagram);
      } catch {
        value = null;
      }
      if (value !== null) finish(null, value);
    });
    // A router that is not there may answer with ICMP, which Node reports as an error on the socket.
    socket.on("error", (error) => finish(MappingErrors.refused(options.what, error.message)));
    socket.bind(0, () => send());
  });
}
