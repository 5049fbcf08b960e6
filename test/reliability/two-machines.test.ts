import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MachinePair, netnsUnavailable, type Machine, type MachineProcess } from "../helpers/netns.js";
import { record } from "../helpers/report.js";

/**
 * The README's set-up on two machines, emulated by two network namespaces joined by a veth pair: machine A
 * runs `p2p up` with its tracker on a non-loopback address and shares a file; machine B downloads it by its
 * SHA-1 with --tracker http://A:8787, and then seeds it. Before `up` took the tracker's listen address, the
 * tracker served 127.0.0.1 only (B could not reach it), and A's daemon, dialling it there, was recorded as
 * 127.0.0.1 (B was sent to itself).
 */

const skip = netnsUnavailable();
const SIZE = 5 * 1024 * 1024 + 12_345;
const READY_MS = 120_000;

interface DownloadJson {
  sha1: string;
  path: string;
  size: number;
  peers: { host: string; port: number; bytes: number }[];
  seeding: boolean;
}

describe("the README's flow across two machines (network namespaces)", () => {
  let net: MachinePair | undefined;
  let dir = "";
  let file = "";
  let sha1 = "";
  const running: MachineProcess[] = [];

  beforeAll(async () => {
    if (skip !== null) return;
    dir = await mkdtemp(join(tmpdir(), "p2p-two-machines-"));
    file = join(dir, "holiday.bin");
    const data = randomBytes(SIZE);
    await writeFile(file, data);
    sha1 = createHash("sha1").update(data).digest("hex");
    net = new MachinePair("readme");
  });

  afterAll(async () => {
    // Politely first (the tracker's process group goes with `up`), then dispose kills whatever is left.
    for (const proc of running) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGTERM");
    await Promise.race([Promise.all(running.map((p) => p.exited)), new Promise((done) => setTimeout(done, 10_000))]);
    net?.dispose();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  /** Starts a serving command on `machine`, to be stopped by the test or, failing that, by afterAll. */
  const serve = (machine: Machine, args: string[]): MachineProcess => {
    const proc = net!.p2p(machine, args);
    running.push(proc);
    return proc;
  };

  const once = async (machine: Machine, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => {
    const proc = net!.p2p(machine, args);
    running.push(proc);
    const code = await proc.exited;
    return { code, stdout: proc.stdout(), stderr: proc.log() };
  };

  const askTracker = async (machine: Machine, url: string): Promise<{ ip: string; port: number }[]> => {
    const script = `fetch(${JSON.stringify(`${url}/v1/files/${sha1}/peers`)}).then((r) => r.text()).then((t) => process.stdout.write(t))`;
    const proc = net!.run(machine, [process.execPath, "-e", script]);
    running.push(proc);
    expect(await proc.exited, proc.log()).toBe(0);
    return (JSON.parse(proc.stdout()) as { peers: { ip: string; port: number }[] }).peers;
  };

  /** One walk of the README: `up --tracker-host <trackerHost>` on A, share there, download on B; `up` still runs. */
  const walk = async (trackerHost: string, label: string): Promise<{ up: MachineProcess; bData: string; tracker: string }> => {
    const { a, b } = net!;
    const aData = join(dir, `${label}-a`);
    const bData = join(dir, `${label}-b`);
    const up = serve(a, ["--data-dir", aData, "up", "--tracker-host", trackerHost]);
    try {
      return { up, bData, ...(await walkWith(up, a, b, aData, bData, label)) };
    } catch (error) {
      // Port 8787 on A must be free for the next walk even when this one fails.
      up.child.kill("SIGTERM");
      await Promise.race([up.exited, new Promise((done) => setTimeout(done, 10_000))]);
      throw error;
    }
  };

  const walkWith = async (up: MachineProcess, a: Machine, b: Machine, aData: string, bData: string, label: string): Promise<{ tracker: string }> => {
    await up.ready(/p2p: tracker at /, READY_MS);
    const tracker = `http://${a.address}:8787`;
    // What `up` says other machines should pass is the address B uses.
    expect(up.log()).toContain(`p2p --tracker ${tracker} download`);

    // The README's "in another terminal": no --tracker, the running daemon takes the share.
    const share = await once(a, ["--data-dir", aData, "share", file]);
    expect(share.code, share.stderr).toBe(0);
    expect(share.stdout.trim()).toBe(sha1);
    const listed = await askTracker(b, tracker);
    expect(listed.map((p) => `${p.ip}:${p.port}`), "the tracker records A by an address B can reach").toEqual([`${a.address}:5001`]);

    const output = join(dir, `${label}-out.bin`);
    const download = await once(b, ["--tracker", tracker, "--data-dir", bData, "download", sha1, "-o", output, "--json"]);
    expect(download.code, download.stderr).toBe(0);
    const result = JSON.parse(download.stdout) as DownloadJson;
    expect(result.peers.map((p) => [p.host, p.bytes])).toEqual([[a.address, SIZE]]);
    expect(Buffer.compare(await readFile(output), await readFile(file)), "byte-identical").toBe(0);
    // A standalone download records the file as a share of B's data dir.
    const ls = await once(b, ["--data-dir", bData, "ls", "--json"]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain(sha1);
    return { tracker };
  };

  /** Ctrl-C: `up` tells the tracker, stops it (wrangler's process group with it) and exits 0. */
  const stop = async (proc: MachineProcess, signal: NodeJS.Signals): Promise<void> => {
    proc.child.kill(signal);
    expect(await proc.exited, proc.log()).toBe(0);
  };

  it.skipIf(skip !== null)(`up --tracker-host 198.18.0.1: B downloads what A shares, byte-identical${skip === null ? "" : ` (skipped: ${skip})`}`, async () => {
    const started = Date.now();
    const { up } = await walk(net!.a.address, "specific");
    await stop(up, "SIGINT");
    record({
      area: "deployment",
      tried: `README flow on two namespaces: A \`p2p up --tracker-host 198.18.0.1\` + \`p2p share\` (${SIZE} bytes), B \`p2p --tracker http://198.18.0.1:8787 download\``,
      outcome: "tracker records A as 198.18.0.1; B's copy byte-identical, then listed in B's shares",
      lost: "nothing",
      seconds: (Date.now() - started) / 1000,
    });
  });

  it.skipIf(skip !== null)(`up --tracker-host 0.0.0.0: A's daemon dials its own outward address; B then seeds${skip === null ? "" : ` (skipped: ${skip})`}`, async () => {
    const started = Date.now();
    const { a, b } = net!;
    const { up, bData, tracker } = await walk("0.0.0.0", "wildcard");
    expect(up.log()).toContain(`p2p: tracker at ${tracker}`);
    // B seeds what it downloaded once a daemon runs there: the tracker then lists both machines.
    const seeder = serve(b, ["--tracker", tracker, "--data-dir", bData, "daemon"]);
    await seeder.ready(/p2p: daemon ready/, 30_000);
    // A starting daemon announces its shares without holding up "ready": ask until B appears.
    let listed: string[] = [];
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((done) => setTimeout(done, 250))) {
      listed = (await askTracker(a, tracker)).map((p) => p.ip).sort();
      if (listed.length === 2) break;
    }
    expect(listed).toEqual([a.address, b.address]);
    await stop(seeder, "SIGTERM");
    await stop(up, "SIGINT");
    record({
      area: "deployment",
      tried: "the same with `p2p up --tracker-host 0.0.0.0`, then B's daemon seeding the download",
      outcome: "A's daemon dialled 198.18.0.1 (printed) and was recorded so; B's copy byte-identical; B's daemon recorded as 198.18.0.2",
      lost: "nothing",
      seconds: (Date.now() - started) / 1000,
    });
  });
});
