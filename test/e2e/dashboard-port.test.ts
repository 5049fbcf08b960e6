import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { controlJson } from "../../peer/daemon/control-client.js";
import { runCli, startDaemon, type Daemon } from "../helpers/cli.js";
import { tempDir } from "../helpers/files.js";

/** The dashboard's port taken (another daemon of this machine, say): the daemon runs on without it, and says so. */

let dir: { path: string; remove: () => Promise<void> };
let holder: Server;
let port: number;
let daemon: Daemon | undefined;

beforeAll(async () => {
  dir = await tempDir("p2p-ui-port-");
  holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
  const address = holder.address();
  port = typeof address === "object" && address !== null ? address.port : 0;
});

afterAll(async () => {
  await daemon?.stop();
  await new Promise((resolve) => holder.close(resolve));
  await dir.remove();
});

describe("the dashboard's port", () => {
  it("taken: one line says so, the daemon serves on without a dashboard, and `p2p ui` says there is none", async () => {
    daemon = await startDaemon("127.0.74.40", join(dir.path, "d"), "http://127.0.74.9:9", undefined, ["--ui-port", String(port)]);
    expect(daemon.log()).toContain(`dashboard off: port ${port} on 127.0.0.1 is in use`);
    const status = await controlJson<{ ui: unknown; public: { port: number } }>(daemon.dataDir, "GET", "/v1/status");
    expect(status.ui).toBeNull();
    expect(status.public.port).toBe(daemon.port);
    const ui = await runCli(["--data-dir", daemon.dataDir, "ui", "--no-open"]);
    expect(ui.code).not.toBe(0);
    expect(ui.code).not.toBe(1);
    expect(ui.stderr).toMatch(/p2p: .*dashboard/);
  });
});
