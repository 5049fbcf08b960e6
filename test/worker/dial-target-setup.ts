import { createServer, type Server } from "node:net";
import { networkInterfaces } from "node:os";
import type { TestProject } from "vitest/node";

/**
 * A TCP server that answers like a peer (an HTTP status line), for the worker tests that need a dial-back to
 * reach something: on this machine's first non-loopback IPv4 address, because the tracker never dials
 * loopback. Tests skip what needs it when the machine has no such address (`dialTarget` is then null).
 */

declare module "vitest" {
  export interface ProvidedContext {
    dialTarget: { ip: string; port: number; closedPort: number } | null;
  }
}

function localAddress(): string | null {
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) if (entry.family === "IPv4" && !entry.internal) return entry.address;
  }
  return null;
}

function listen(server: Server, ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, ip, () => {
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : 0);
    });
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const ip = localAddress();
  if (ip === null) {
    project.provide("dialTarget", null);
    return () => Promise.resolve();
  }
  const server = createServer((socket) => {
    socket.on("error", () => undefined);
    socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  });
  const port = await listen(server, ip);
  // A port that was just free and is closed again: a dial there is refused.
  const spare = createServer();
  const closedPort = await listen(spare, ip);
  await new Promise<void>((done) => spare.close(() => done()));
  project.provide("dialTarget", { ip, port, closedPort });
  return () => new Promise<void>((done) => server.close(() => done()));
}
