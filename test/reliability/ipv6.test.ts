import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DualStackLan, TRACKER_NAME, type DualStackHost } from "../helpers/dual-stack.js";
import { netnsUnavailable, type MachineProcess } from "../helpers/netns.js";
import { record } from "../helpers/report.js";

/**
 * Issue 11 item 3 on an emulated dual-stack network (test/helpers/dual-stack.ts): the tracker (wrangler dev
 * behind its front, on `::`) reached by name over both families, a sharer daemon and a downloader daemon with
 * an IPv4 and an IPv6 address each. The sharer is listed under both; the download goes over IPv6.
 */

const skip = netnsUnavailable();
const SIZE = 5 * 1024 * 1024 + 17;

interface PeerJson {
  peerId: string;
  ip: string;
  port: number;
}

describe.skipIf(skip !== null)(`IPv6${skip === null ? "" : ` (skipped: ${skip})`}`, () => {
  let lan: DualStackLan;
  let dir = "";
  let file = "";
  let sha1 = "";
  let sharer: DualStackHost;
  let downloader: DualStackHost;
  const tracker = `http://${TRACKER_NAME}:8787`;
  const running: MachineProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "p2p-ipv6-"));
    file = join(dir, "film.bin");
    const data = randomBytes(SIZE);
    await writeFile(file, data);
    sha1 = createHash("sha1").update(data).digest("hex");
    lan = new DualStackLan("v6", 3, 3);
    [sharer, downloader] = lan.hosts as [DualStackHost, DualStackHost];
    const args = ["tracker", "--host", "::", "--port", "8787", "--persist-to", join(dir, "tracker")];
    for (const [key, value] of Object.entries({ ANNOUNCE_INTERVAL_SECONDS: "30", ANNOUNCE_GRACE_SECONDS: "30", RATE_LIMIT_PER_MINUTE: "0" })) args.push("--var", `${key}=${value}`);
    const started = lan.p2p(lan.hosts[2]!, args);
    running.push(started);
    await started.ready(/tracker ready/, 90_000);
  }, 120_000);

  afterAll(async () => {
    for (const proc of running) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGTERM");
    await Promise.race([Promise.all(running.map((p) => p.exited)), new Promise((done) => setTimeout(done, 10_000))]);
    lan?.dispose();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  const node = async (host: DualStackHost, script: string): Promise<string> => {
    const proc = lan.run(host, [process.execPath, "-e", script]);
    running.push(proc);
    expect(await proc.exited, proc.log()).toBe(0);
    return proc.stdout();
  };

  const daemon = async (host: DualStackHost, data: string): Promise<MachineProcess> => {
    const proc = lan.p2p(host, ["--tracker", tracker, "--data-dir", data, "daemon", "--port", "5001", "--no-port-mapping"]);
    running.push(proc);
    await proc.ready(/daemon ready/, 20_000);
    return proc;
  };

  it("two peers with IPv6 on both ends: the sharer is listed under both families, the download goes over IPv6, byte-identical", async () => {
    const started = Date.now();
    const sharerData = join(dir, "sharer");
    const sharing = await daemon(sharer, sharerData);
    // Listening on :: (the default) takes both families.
    expect(sharing.log()).toContain("public port [::]:5001");
    const share = lan.p2p(sharer, ["--tracker", tracker, "--data-dir", sharerData, "share", file]);
    running.push(share);
    expect(await share.exited, share.log()).toBe(0);

    // One announce per family: the tracker recorded each connection's address, the IPv4 one without ::ffff:.
    const listed = async (): Promise<PeerJson[]> =>
      (JSON.parse(await node(downloader, `fetch(${JSON.stringify(`${tracker}/v1/files/${sha1}/peers`)}).then((r) => r.text()).then((t) => process.stdout.write(t))`)) as { peers: PeerJson[] }).peers;
    const deadline = Date.now() + 10_000;
    let peers = await listed();
    while (peers.length < 2 && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, 250));
      peers = await listed();
    }
    expect(peers.map((p) => p.ip).sort()).toEqual([sharer.ipv4, sharer.ipv6]);
    expect(new Set(peers.map((p) => p.peerId)).size).toBe(1);
    const status = lan.p2p(sharer, ["--data-dir", sharerData, "status", "--json"]);
    running.push(status);
    expect(await status.exited, status.log()).toBe(0);
    const trackers = (JSON.parse(status.stdout()) as { daemon: { trackers: { url: string; family?: number; seenAs?: { ip: string } }[] } }).daemon.trackers;
    expect(trackers.map((t) => [t.family, t.seenAs?.ip])).toEqual([
      [4, sharer.ipv4],
      [6, sharer.ipv6],
    ]);

    // Time to the first byte over IPv6, from the downloader's machine.
    const ttfb = Number(
      await node(downloader, `const t = Date.now(); fetch("http://[${sharer.ipv6}]:5001/v1/files/${sha1}", { headers: { range: "bytes=0-0" } }).then(async (r) => { await r.arrayBuffer(); process.stdout.write(String(Date.now() - t)); })`),
    );

    const downloaderData = join(dir, "downloader");
    await daemon(downloader, downloaderData);
    const output = join(dir, "got.bin");
    const fetchStarted = Date.now();
    const download = lan.p2p(downloader, ["--tracker", tracker, "--data-dir", downloaderData, "download", sha1, "-o", output, "--json"]);
    running.push(download);
    expect(await download.exited, download.log()).toBe(0);
    const seconds = (Date.now() - fetchStarted) / 1000;
    expect(createHash("sha1").update(await readFile(output)).digest("hex")).toBe(sha1);
    // One peer (its two addresses are one), reached at its IPv6 address.
    const report = JSON.parse(download.stdout()) as { peers: { host: string; port: number; bytes: number }[] };
    expect(report.peers.map((p) => [p.host, p.port])).toEqual([[sharer.ipv6, 5001]]);
    expect(report.peers[0]?.bytes).toBe(SIZE);
    record({
      area: "reachability",
      tried: "IPv6: sharer and downloader daemons with IPv4 and IPv6, the tracker by name with A and AAAA records",
      outcome: `listed under both families, one peer to the downloader, downloaded over IPv6 byte-identical (${SIZE} bytes in ${seconds.toFixed(2)} s); first byte over IPv6 ${ttfb} ms`,
      lost: "nothing",
      seconds: (Date.now() - started) / 1000,
    });
  });
});
