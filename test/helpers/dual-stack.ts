import { mkdirSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN } from "./cli.js";
import { must, removeNamespace, runInNamespace, type MachineProcess } from "./netns.js";

/**
 * A dual-stack local network: hosts (namespaces) on a switch (a bridge in a namespace of its own), host N at
 * 198.19.71.N/24 and 2001:db8:70::N/64 (RFC 2544's and RFC 3849's ranges, routed nowhere). IPv6 addresses are
 * added `nodad`, so that they are usable at once rather than "tentative" for the second or two duplicate
 * address detection takes. Every host resolves TRACKER_NAME to both of the tracker host's addresses through
 * its own hosts file (`ip netns exec` mounts /etc/netns/<ns>/hosts over /etc/hosts), as a tracker's name
 * with A and AAAA records would. Only root can build it; dispose() kills every process in its namespaces and
 * removes them and their /etc/netns folders, on any exit path. Names carry the test process's pid.
 */
export const TRACKER_NAME = "tracker.v6.test";

export interface DualStackHost {
  ns: string;
  ipv4: string;
  ipv6: string;
}

export class DualStackLan {
  readonly hosts: DualStackHost[] = [];
  private readonly switchNs: string;
  private readonly namespaces: string[] = [];
  private disposed = false;

  /** `count` hosts; host `trackerAt` (1-based) is the one TRACKER_NAME names. */
  constructor(tag: string, count: number, trackerAt: number) {
    this.switchNs = `p2p-${tag}-${process.pid}-sw`;
    try {
      this.add(this.switchNs);
      must(["-n", this.switchNs, "link", "add", "br0", "type", "bridge"]);
      must(["-n", this.switchNs, "link", "set", "br0", "up"]);
      const hostsFile = [
        "127.0.0.1 localhost",
        "::1 localhost",
        `198.19.71.${trackerAt} ${TRACKER_NAME}`,
        `2001:db8:70::${trackerAt} ${TRACKER_NAME}`,
        "",
      ].join("\n");
      for (let n = 1; n <= count; n++) {
        const host = { ns: `p2p-${tag}-${process.pid}-h${n}`, ipv4: `198.19.71.${n}`, ipv6: `2001:db8:70::${n}` };
        this.add(host.ns);
        this.hosts.push(host);
        mkdirSync(join("/etc/netns", host.ns), { recursive: true });
        writeFileSync(join("/etc/netns", host.ns, "hosts"), hostsFile);
        must(["link", "add", "eth0", "netns", host.ns, "type", "veth", "peer", "name", `port${n}`, "netns", this.switchNs]);
        must(["-n", this.switchNs, "link", "set", `port${n}`, "master", "br0"]);
        must(["-n", this.switchNs, "link", "set", `port${n}`, "up"]);
        must(["-n", host.ns, "addr", "add", `${host.ipv4}/24`, "dev", "eth0"]);
        must(["-n", host.ns, "addr", "add", `${host.ipv6}/64`, "dev", "eth0", "nodad"]);
        must(["-n", host.ns, "link", "set", "eth0", "up"]);
      }
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  private add(ns: string): void {
    must(["netns", "add", ns]);
    this.namespaces.push(ns);
    must(["-n", ns, "link", "set", "lo", "up"]);
  }

  /** The built CLI on `host`, with `env` added to this process's environment. */
  p2p(host: DualStackHost, args: string[], env: NodeJS.ProcessEnv = {}): MachineProcess {
    return runInNamespace(host.ns, [process.execPath, BIN, ...args], { ...process.env, ...env });
  }

  run(host: DualStackHost, argv: string[]): MachineProcess {
    return runInNamespace(host.ns, argv, process.env);
  }

  /** Safe to call more than once. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const ns of [...this.namespaces].reverse()) {
      removeNamespace(ns);
      rmSync(join("/etc/netns", ns), { recursive: true, force: true });
    }
    try {
      rmdirSync("/etc/netns"); // Made here if it was not there; left alone while another test's hosts are in it.
    } catch {
      // Not empty, or gone.
    }
  }
}
