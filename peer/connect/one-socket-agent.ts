import { Agent, type ClientRequestArgs } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";

/**
 * An http.Agent whose only connection is a socket it was given (the sharer's side of a relay pair): every
 * request goes over it, one at a time, kept alive between them. It never dials: once that socket is gone,
 * a request fails instead of opening another connection.
 */
export class OneSocketAgent extends Agent {
  private socket: Socket | null;

  constructor(socket: Socket) {
    super({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
    this.socket = socket;
  }

  override createConnection(_options: ClientRequestArgs, callback?: (error: Error | null, stream: Duplex) => void): Duplex {
    const socket = this.socket;
    this.socket = null;
    if (socket !== null && !socket.destroyed) return socket;
    // Node's Agent takes a falsy return as "the callback will say": it does, with the error, at once.
    const none = undefined as unknown as Duplex;
    callback?.(new Error("the sharer's side of the relay is closed"), none);
    return none;
  }
}
