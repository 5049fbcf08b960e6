import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BIN } from "./cli.js";
import { must, removeNamespace, runInNamespace, type Machine, type MachineProcess } from "./netns.js";

/**
 * An emulated internet (../shared/NETLAB.md): a public segment (a bridge in namespace `pub`, which is also
 * where the tracker runs, at TRACKER_IP), home routers (a namespace each: eth0 on the bridge with a public-
 * looking address 80.100.100.N, lan0 towards 10.80.N.0/24, nftables masquerade, unsolicited packets dropped,
 * and optionally the real miniupnpd for UPnP IGD and NAT-PMP/PCP), the hosts behind them, and hosts on the
 * public segment. miniupnpd refuses private WAN addresses, hence 80.100.100.0/24, which exists only here.
 * Only root can build it; dispose() kills every process in its namespaces (miniupnpd included) and removes
 * them and its files, on any exit path. Names carry the test process's pid.
 */

export const TRACKER_IP = "80.100.100.20";

export interface RouterOptions {
  /** UPnP IGD (version 2, or 1 with `igd1`). */
  upnp: boolean;
  /** NAT-PMP and PCP (miniupnpd serves both on UDP 5351). */
  natpmp: boolean;
  igd1?: boolean;
  /** Hosts behind it: 10.80.N.2, .3, ... */
  hosts?: number;
  /**
   * A router that gives each outgoing connection a random public port (`masquerade random,fully-random`), as
   * many carrier-grade and corporate NATs do: a hole cannot be punched through it.
   */
  randomPorts?: boolean;
}

export interface Router {
  ns: string;
  wan: string;
  hosts: Machine[];
  miniupnpd: MachineProcess | null;
}

export function nft(ns: string, ruleset: string): void {
  const run = spawnSync("ip", ["netns", "exec", ns, "nft", "-f", "-"], { input: ruleset, encoding: "utf8", timeout: 10_000 });
  if (run.status !== 0) throw new Error(`nft in ${ns}: ${run.stderr}`);
}

export function nftOut(ns: string, args: string[]): string {
  return spawnSync("ip", ["netns", "exec", ns, "nft", ...args], { encoding: "utf8", timeout: 10_000 }).stdout ?? "";
}

/** Why this machine cannot build it (not root, no nft, no miniupnpd), or null. */
export function homeRouterUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "needs root";
  for (const tool of ["nft", "miniupnpd"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `needs ${tool} (apt-get install nftables miniupnpd-nftables)`;
  }
  return null;
}

/** The router's nftables rules, shared with scripts/netlab.sh. */
const ROUTER_RULES = readFileSync(fileURLToPath(new URL("../../scripts/home-router.nft", import.meta.url)), "utf8");

export class Internet {
  readonly pub: Machine;
  readonly routers: Router[] = [];
  readonly publicHosts: Machine[] = [];
  private readonly namespaces: string[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), "p2p-netlab-"));
  private links = 0;
  private disposed = false;

  constructor(private readonly tag: string) {
    this.pub = { ns: this.name("pub"), address: TRACKER_IP };
    try {
      this.namespace(this.pub.ns);
      must(["-n", this.pub.ns, "link", "add", "br0", "type", "bridge"]);
      must(["-n", this.pub.ns, "addr", "add", `${TRACKER_IP}/24`, "dev", "br0"]);
      must(["-n", this.pub.ns, "link", "set", "br0", "up"]);
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  private name(part: string): string {
    return `p2p-${this.tag}-${process.pid}-${part}`;
  }

  private namespace(ns: string): void {
    must(["netns", "add", ns]);
    this.namespaces.push(ns);
    must(["-n", ns, "link", "set", "lo", "up"]);
  }

  /** A veth from `ns` (named `ifname` there) to the public bridge. */
  private plug(ns: string, ifname: string, address: string): void {
    const port = `p${++this.links}`;
    must(["link", "add", ifname, "netns", ns, "type", "veth", "peer", "name", port, "netns", this.pub.ns]);
    must(["-n", this.pub.ns, "link", "set", port, "master", "br0"]);
    must(["-n", this.pub.ns, "link", "set", port, "up"]);
    must(["-n", ns, "addr", "add", `${address}/24`, "dev", ifname]);
    must(["-n", ns, "link", "set", ifname, "up"]);
  }

  addPublicHost(n: number): Machine {
    const host = { ns: this.name(`p${n}`), address: `80.100.100.${30 + n}` };
    this.namespace(host.ns);
    this.plug(host.ns, "eth0", host.address);
    this.publicHosts.push(host);
    return host;
  }

  /** Router N: WAN 80.100.100.N, LAN 10.80.N.1/24, its hosts 10.80.N.2, ...; miniupnpd started if asked. */
  async addRouter(n: number, options: RouterOptions): Promise<Router> {
    const ns = this.name(`r${n}`);
    const wan = `80.100.100.${n}`;
    this.namespace(ns);
    this.plug(ns, "eth0", wan);
    must(["-n", ns, "link", "add", "lan0", "type", "bridge"]);
    must(["-n", ns, "addr", "add", `10.80.${n}.1/24`, "dev", "lan0"]);
    must(["-n", ns, "link", "set", "lan0", "up"]);
    spawnSync("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    nft(ns, options.randomPorts === true ? ROUTER_RULES.replace('oifname "eth0" masquerade', 'oifname "eth0" masquerade random,fully-random') : ROUTER_RULES);
    const hosts: Machine[] = [];
    for (let h = 0; h < (options.hosts ?? 1); h++) {
      const host = { ns: this.name(`r${n}h${h}`), address: `10.80.${n}.${h + 2}` };
      this.namespace(host.ns);
      must(["link", "add", "eth0", "netns", host.ns, "type", "veth", "peer", "name", `h${h}`, "netns", ns]);
      must(["-n", ns, "link", "set", `h${h}`, "master", "lan0"]);
      must(["-n", ns, "link", "set", `h${h}`, "up"]);
      must(["-n", host.ns, "addr", "add", `${host.address}/24`, "dev", "eth0"]);
      must(["-n", host.ns, "link", "set", "eth0", "up"]);
      must(["-n", host.ns, "route", "add", "default", "via", `10.80.${n}.1`]);
      hosts.push(host);
    }
    let miniupnpd: MachineProcess | null = null;
    if (options.upnp || options.natpmp) {
      const conf = join(this.dir, `r${n}.conf`);
      writeFileSync(
        conf,
        [
          "ext_ifname=eth0",
          "listening_ip=lan0",
          "http_port=5000",
          `enable_upnp=${options.upnp ? "yes" : "no"}`,
          `enable_natpmp=${options.natpmp ? "yes" : "no"}`,
          ...(options.igd1 === true ? ["force_igd_desc_v1=yes"] : []),
          "secure_mode=yes",
          `uuid=3e1b2c4d-0000-4000-8000-${String(n).padStart(12, "0")}`,
          `lease_file=${join(this.dir, `r${n}.leases`)}`,
          "upnp_table_name=miniupnpd",
          "upnp_nat_table_name=miniupnpd",
          "upnp_forward_chain=miniupnpd",
          "upnp_nat_chain=prerouting_miniupnpd",
          "upnp_nat_postrouting_chain=postrouting_miniupnpd",
          // Short leases are granted as asked: the renewal test asks for seconds.
          "min_lifetime=2",
          "max_lifetime=86400",
          `allow 1024-65535 10.80.${n}.0/24 1024-65535`,
          "deny 0-65535 0.0.0.0/0 0-65535",
          "",
        ].join("\n"),
      );
      miniupnpd = runInNamespace(ns, ["miniupnpd", "-d", "-f", conf, "-P", join(this.dir, `r${n}.pid`)]);
      await miniupnpd.ready(options.natpmp ? /Listening for NAT-PMP/ : /HTTP listening/, 10_000);
    }
    const router = { ns, wan, hosts, miniupnpd };
    this.routers.push(router);
    return router;
  }

  /** The DNAT rules miniupnpd holds now, one line each ("... dport 5001 dnat ip to 10.80.1.2:5001"). */
  mappings(router: Router): string[] {
    return nftOut(router.ns, ["list", "chain", "inet", "miniupnpd", "prerouting_miniupnpd"])
      .split("\n")
      .filter((line) => line.includes("dnat"))
      .map((line) => line.trim());
  }

  /** The built CLI on `machine`, with `env` added to this process's environment. */
  p2p(machine: Machine | { ns: string }, args: string[], env: NodeJS.ProcessEnv = {}): MachineProcess {
    return runInNamespace(machine.ns, [process.execPath, BIN, ...args], { ...process.env, ...env });
  }

  run(machine: Machine | { ns: string }, argv: string[], env: NodeJS.ProcessEnv = {}): MachineProcess {
    return runInNamespace(machine.ns, argv, { ...process.env, ...env });
  }

  /** The tracker (wrangler dev behind its front) on the public segment, at TRACKER_IP:8787. */
  async startTracker(vars: Record<string, string>): Promise<{ url: string; process: MachineProcess }> {
    const args = ["tracker", "--host", TRACKER_IP, "--port", "8787", "--persist-to", join(this.dir, "tracker")];
    for (const [key, value] of Object.entries(vars)) args.push("--var", `${key}=${value}`);
    const tracker = this.p2p(this.pub, args);
    await tracker.ready(/tracker ready/, 90_000);
    return { url: `http://${TRACKER_IP}:8787`, process: tracker };
  }

  /** Safe to call more than once. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const ns of [...this.namespaces].reverse()) removeNamespace(ns);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
