// The reference: bittorrent-tracker's HTTP server (webtorrent), alone in its own process, as workerd is.
import Server from "bittorrent-tracker/server";

const port = Number(process.argv[2] ?? 8000);
const server = new Server({ udp: false, ws: false, http: true, stats: false, interval: 120_000 });
server.on("error", (err) => {
  console.error("bittorrent-tracker:", err.message);
});
server.listen(port, "127.0.0.1", () => {
  process.stdout.write("ready\n");
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
