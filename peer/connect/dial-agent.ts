import { Agent, type ClientRequestArgs } from "node:http";
import type { Duplex } from "node:stream";
import type { Dialer } from "./dialer.js";

/**
 * Node's HTTP client over a Dialer's sockets: the keep-alive pool, parsing and limits of `http.request`, with
 * connections that the dialer makes. Node's Agent takes the socket from createConnection's callback when the
 * method returns nothing, which is how an asynchronous connection is given to it. Node counts such a socket
 * only once it is given (so `maxSockets` alone would let every waiting request start a dial): the dials
 * open or on their way are bounded here, a request beyond them waiting for one of them to close, or to be
 * freed (then closed for it).
 */
export class DialAgent extends Agent {
  private open = 0;
  private readonly waiting: { start: () => void; fail: () => void }[] = [];

  constructor(
    private readonly dialer: Dialer,
    /** Stops the dials on their way when the connection to the peer closes. */
    private readonly signal: AbortSignal,
    private readonly limit: number,
  ) {
    super({ keepAlive: true, maxSockets: limit });
    // A request waiting here for a dial is not one Node's pool hands a freed socket to (it asked for a new
    // connection): a socket freed while one waits is closed instead, which lets that request dial.
    this.on("free", (socket: Duplex) => {
      if (this.waiting.length > 0) socket.destroy();
    });
  }

  /** Sockets open or being dialled. */
  get dialled(): number {
    return this.open;
  }

  override createConnection(_options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex {
    const start = (): void => {
      this.open++;
      this.dialer.dial(this.signal).then(
        (socket) => {
          socket.once("close", () => this.freed());
          // Given after the request gave up: the agent frees or destroys it, as for any late socket.
          callback?.(null, socket);
        },
        (error: unknown) => {
          this.freed();
          callback?.(error instanceof Error ? error : new Error(String(error)), undefined as unknown as Duplex);
        },
      );
    };
    const fail = (): void => callback?.(new Error("the connection to the peer closed"), undefined as unknown as Duplex);
    if (this.signal.aborted) fail();
    else if (this.open < this.limit) start();
    else this.waiting.push({ start, fail });
    // The callback form: nothing returned, the socket comes through `callback`.
    return undefined as unknown as Duplex;
  }

  private freed(): void {
    this.open--;
    if (this.signal.aborted) {
      // The connection to the peer is closing: nobody waits any more.
      for (const { fail } of this.waiting.splice(0)) fail();
      return;
    }
    this.waiting.shift()?.start();
  }
}
