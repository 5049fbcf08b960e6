import { Agent, type ClientRequestArgs } from "node:http";
import type { Duplex } from "node:stream";
import type { Dialer } from "./dialer.js";

/**
 * Node's HTTP client over a Dialer's sockets: the keep-alive pool, parsing and limits of `http.request`, with
 * connections that the dialer makes. Node's Agent takes the socket from createConnection's callback when the
 * method returns nothing, which is how an asynchronous connection is given to it.
 */
export class DialAgent extends Agent {
  constructor(
    private readonly dialer: Dialer,
    /** Stops the dials on their way when the connection to the peer closes. */
    private readonly signal: AbortSignal,
    maxSockets: number,
  ) {
    super({ keepAlive: true, maxSockets });
  }

  override createConnection(_options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex {
    this.dialer.dial(this.signal).then(
      (socket) => {
        // Given after the request gave up: the agent frees or destroys it, as for any late socket.
        callback?.(null, socket);
      },
      (error: unknown) => callback?.(error instanceof Error ? error : new Error(String(error)), undefined as unknown as Duplex),
    );
    // The callback form: nothing returned, the socket comes through `callback`.
    return undefined as unknown as Duplex;
  }
}
