import type { Server } from "node:http";

/**
 * Caps what one address can hold of a server: a connection beyond `perAddress` from the same address is
 * closed at once, so that one client cannot use up the connections (or file descriptors) others need.
 * The total is the server's own `maxConnections`, which Node checks only for the connections it accepts:
 * it is counted here too, so that sockets handed to the server (servePeerSocket: reversed and punched ones)
 * are held to it as well.
 */
export function limitConnections(server: Server, perAddress: number, total: number): void {
  server.maxConnections = total;
  const open = new Map<string, number>();
  let live = 0;
  server.on("connection", (socket) => {
    // A handed-over socket that closed on its way would never say so again: not counted.
    if (socket.destroyed) return;
    const address = socket.remoteAddress ?? "";
    const count = (open.get(address) ?? 0) + 1;
    if (count > perAddress || live >= total) {
      socket.destroy();
      return;
    }
    open.set(address, count);
    live++;
    socket.once("close", () => {
      live--;
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}
