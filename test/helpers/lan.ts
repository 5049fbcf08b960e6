import { BIN } from "./cli.js";
import { must, removeNamespace, runInNamespace, type Machine, type MachineProcess } from "./netns.js";

/**
 * One emulated local network: hosts (network namespaces) plugged into a switch (a bridge in a namespace of
 * its own) by veth pairs, with addresses 198.19.70.1, .2, ... /24. The switch is also the home router, at
 * ROUTER (198.19.70.254), the hosts' default route, so that multicast leaves by eth0 as on a real LAN; it
 * serves nothing, so a connection to it is refused at once. Only root can make it; every process in its
 * namespaces is killed and the namespaces removed by dispose(), on any exit path. Names carry the test
 * process's pid, so that concurrent runs never meet.
 */
export const ROUTER = "198.19.70.254";

export class Lan {
  readonly hosts: Machine[] = [];
  private readonly switchNs: string;
  private disposed = false;

  constructor(tag: string, count: number) {
    this.switchNs = `p2p-${tag}-${process.pid}-sw`;
    try {
      must(["netns", "add", this.switchNs]);
      must(["-n", this.switchNs, "link", "add", "br0", "type", "bridge"]);
      // No IGMP snooping: the switch floods the group to every port, as a small unmanaged switch does.
      must(["-n", this.switchNs, "link", "set", "br0", "type", "bridge", "mcast_snooping", "0"]);
      must(["-n", this.switchNs, "addr", "add", `${ROUTER}/24`, "dev", "br0"]);
      must(["-n", this.switchNs, "link", "set", "br0", "up"]);
      for (let n = 1; n <= count; n++) {
        const host = { ns: `p2p-${tag}-${process.pid}-h${n}`, address: `198.19.70.${n}` };
        must(["netns", "add", host.ns]);
        this.hosts.push(host);
        // Made inside the namespaces, so that no interface of this machine's own namespace is touched.
        must(["link", "add", "eth0", "netns", host.ns, "type", "veth", "peer", "name", `port${n}`, "netns", this.switchNs]);
        must(["-n", this.switchNs, "link", "set", `port${n}`, "master", "br0"]);
        must(["-n", this.switchNs, "link", "set", `port${n}`, "up"]);
        must(["-n", host.ns, "addr", "add", `${host.address}/24`, "dev", "eth0"]);
        must(["-n", host.ns, "link", "set", "lo", "up"]);
        must(["-n", host.ns, "link", "set", "eth0", "up"]);
        must(["-n", host.ns, "route", "add", "default", "via", ROUTER, "dev", "eth0"]);
      }
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  /** Runs the built CLI (bin/p2p.js) on `host`, with `env` added to this process's environment. */
  p2p(host: Machine, args: string[], env: NodeJS.ProcessEnv = {}): MachineProcess {
    return this.run(host, [process.execPath, BIN, ...args], env);
  }

  run(host: Machine, argv: string[], env: NodeJS.ProcessEnv = {}): MachineProcess {
    return runInNamespace(host.ns, argv, { ...process.env, ...env });
  }

  /** Safe to call more than once. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const host of this.hosts) removeNamespace(host.ns);
    removeNamespace(this.switchNs);
  }
}
