import type { Server } from "node:http";

/**
 * Caps what one address can hold of a server: a connection beyond `perAddress` from the same address is
 * closed at once, so that one client cannot use up the connections (or file descriptors) others need.
 * The total is the server's own `maxConnections`.
 */
export function limitConnections(server: Server, perAddress: number, total: number): void {
  server.maxConnections = total;
  const open = new Map<string, number>();
  server.on("connection", (socket) => {
    const address = socket.remoteAddress ?? "";
    const count = (open.get(address) ?? 0) + 1;
    if (count > perAddress) {
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once("close", () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}
