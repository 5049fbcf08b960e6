import type { Socket } from "node:net";

/**
 * A raw peer's side of one connection: each request head that arrives (up to its blank line) is answered with
 * whatever bytes `answer` gives for its number on this connection, or the connection is cut for null.
 */
export function answerEachRequest(socket: Socket, answer: (requestNumber: number) => Buffer | null): void {
  let count = 0;
  let pending = "";
  socket.on("data", (data: Buffer) => {
    pending += data.toString("latin1");
    while (pending.includes("\r\n\r\n")) {
      pending = pending.slice(pending.indexOf("\r\n\r\n") + 4);
      const reply = answer(count++);
      if (reply === null) socket.destroy();
      else socket.write(reply);
    }
  });
}
