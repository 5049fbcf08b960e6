import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startLocalTracker, type LocalTracker } from "../../peer/cli/local-tracker.js";

export { freePort };

/** A real tracker for a test: the Worker under wrangler dev (workerd) on a free port, state in a temp dir. */

export interface TestTracker extends LocalTracker {
  persistTo: string;
  port: number;
  /** Stops the tracker and removes its state. */
  dispose(): Promise<void>;
}

export const TEST_VARS = {
  ANNOUNCE_INTERVAL_SECONDS: "30",
  ANNOUNCE_GRACE_SECONDS: "30",
  RATE_LIMIT_PER_MINUTE: "0",
};

export async function startTestTracker(
  vars: Record<string, string> = {},
  reuse?: { persistTo: string; port: number },
): Promise<TestTracker> {
  const persistTo = reuse?.persistTo ?? (await mkdtemp(join(tmpdir(), "p2p-tracker-")));
  const port = reuse?.port ?? (await freePort());
  const tracker = await startLocalTracker({ host: "127.0.0.1", port, persistTo, vars: { ...TEST_VARS, ...vars } });
  return {
    ...tracker,
    persistTo,
    port,
    dispose: async () => {
      await tracker.stop();
      await rm(persistTo, { recursive: true, force: true });
    },
  };
}
