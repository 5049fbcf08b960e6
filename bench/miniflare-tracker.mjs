// The same tracker bundle in the same workerd, started through Miniflare directly instead of `wrangler dev`:
// the difference between the two is the cost of wrangler dev's proxy layer.
//   node bench/miniflare-tracker.mjs <bundle.js> <port> <persist-dir>
import { dirname } from "node:path";
import { Miniflare } from "miniflare";

const [scriptPath, port, persist] = process.argv.slice(2);
const mf = new Miniflare({
  modules: true,
  scriptPath,
  modulesRoot: dirname(scriptPath),
  compatibilityDate: "2026-04-20",
  durableObjects: { SWARM: { className: "Swarm", useSQLite: true } },
  bindings: {
    ANNOUNCE_INTERVAL_SECONDS: "120",
    ANNOUNCE_GRACE_SECONDS: "60",
    TRUST_CLIENT_IP: "false",
    RATE_LIMIT_PER_MINUTE: "0",
    MAX_PEERS_PER_FILE: "100000",
    MAX_PEERS_PER_ADDRESS: "100000",
  },
  host: "127.0.0.1",
  port: Number(port),
  durableObjectsPersist: persist,
  cf: false,
});
await mf.ready;
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void mf.dispose().then(() => process.exit(0));
});
