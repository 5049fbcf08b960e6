// The BitTorrent side's tracker for bench/flash-crowd.mjs: bittorrent-tracker's HTTP server (webtorrent,
// bench/package.json) on a given address, recording each peer under the address its connection came from.
// Prints "ready" when listening, then one line per announce event: "<event> <ip:port>".
//   node bench/flash-crowd-bt-tracker.mjs <host> <port>
import Server from "bittorrent-tracker/server";

const [host = "127.0.0.1", port = "8000"] = process.argv.slice(2);
// interval: what clients are told between announces (Transmission asks again sooner when it wants peers).
const server = new Server({ udp: false, ws: false, http: true, stats: true, trustProxy: false, interval: 120_000 });
server.on("error", (err) => console.error("bittorrent-tracker:", err.message));
server.on("warning", (err) => console.error("bittorrent-tracker warning:", err.message));
for (const event of ["start", "complete", "update", "stop"]) server.on(event, (addr) => process.stdout.write(`${event} ${addr}\n`));
server.listen(Number(port), host, () => process.stdout.write("ready\n"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
