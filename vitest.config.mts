import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Two kinds of test: pure units and end-to-end runs in Node (real wrangler dev, real daemons, real files),
// and Durable Object tests inside workerd itself.
// No test reaches beyond this machine: the DHT (whose default bootstrap nodes are public hosts), LAN
// multicast and port mapping (NAT-PMP/PCP to the default gateway, SSDP multicast) are off in every daemon and
// CLI a test starts, unless the test turns them on with local nodes or inside network namespaces it made. The
// dashboard (a loopback port, 5002 by default) is off too: many daemons run at once; the dashboard tests turn
// it on with a port of their own.
const offline = { P2P_DHT: "off", P2P_LAN_DISCOVERY: "off", P2P_PORT_MAPPING: "off", P2P_UI: "off" };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["test/unit/**/*.test.ts", "test/e2e/**/*.test.ts"],
          exclude: ["test/e2e/setup-build.ts"],
          environment: "node",
          env: offline,
          globalSetup: ["test/e2e/setup-build.ts", "test/helpers/leftover-check.ts"],
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
      {
        test: {
          name: "reliability",
          include: ["test/reliability/**/*.test.ts"],
          environment: "node",
          env: offline,
          globalSetup: ["test/e2e/setup-build.ts", "test/reliability/report-setup.ts", "test/helpers/leftover-check.ts"],
          // One file at a time: the load and fault cases measure time and memory on two cores.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: { ANNOUNCE_INTERVAL_SECONDS: "2", ANNOUNCE_GRACE_SECONDS: "1", MAX_PEERS_PER_ADDRESS: "3" },
            },
          }),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          // A TCP server on this machine's own address for the dial-backs that must reach something.
          globalSetup: ["test/worker/dial-target-setup.ts"],
        },
      },
    ],
  },
});
