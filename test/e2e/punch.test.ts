import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { nft } from "../helpers/home-router.js";
import { must, netnsUnavailable, removeNamespace, runInNamespace } from "../helpers/netns.js";

/**
 * TCP simultaneous open between two punches aimed at each other (127.0.90.1:p1 <-> 127.0.90.2:p2). On plain
 * loopback they never cross: a SYN is answered by a RST within the sending call, before the other side has
 * sent its own. So they run in a network namespace of their own (its loopback only) whose RSTs are dropped,
 * as a router drops unsolicited packets: each SYN then waits, and the two cross as they would between NATs.
 * The punches run in a process inside the namespace, from the build (test/e2e/setup-build.ts).
 */

const ROOT = join(fileURLToPath(import.meta.url), "..", "..", "..");
const PUNCH = join(ROOT, "dist", "peer", "connect", "punch.js");

const script = `
const { simultaneousOpen } = await import(${JSON.stringify(PUNCH)});
const [p1, p2] = [41001, 41002];
const ends = await Promise.all([
  simultaneousOpen({ localPort: p1, localAddress: "127.0.90.1", ip: "127.0.90.2", port: p2, deadlineMs: 5000 }),
  // The other side starts a little later, as the tracker's order reaches it.
  new Promise((r) => setTimeout(r, 300)).then(() => simultaneousOpen({ localPort: p2, localAddress: "127.0.90.2", ip: "127.0.90.1", port: p1, deadlineMs: 5000 })),
]);
const heard = new Promise((r) => ends[1].once("data", (d) => r(d.toString())));
ends[0].write("through");
const said = await heard;
console.log(JSON.stringify({ said, a: [ends[0].localPort, ends[0].remotePort], b: [ends[1].localPort, ends[1].remotePort] }));
for (const end of ends) end.destroy();
`;

const why = netnsUnavailable();

describe.skipIf(why !== null)("TCP simultaneous open", () => {
  it("makes one connection of two punches aimed at each other", async () => {
    const ns = `p2p-punch-${process.pid}`;
    must(["netns", "add", ns]);
    try {
      must(["-n", ns, "link", "set", "lo", "up"]);
      nft(ns, "table inet punch {\n chain out {\n  type filter hook output priority 0; policy accept;\n  tcp flags rst drop\n }\n}\n");
      const run = runInNamespace(ns, [process.execPath, "--input-type=module", "-e", script]);
      const code = await run.exited;
      expect(code, run.log()).toBe(0);
      const result = JSON.parse(run.stdout()) as { said: string; a: number[]; b: number[] };
      expect(result).toEqual({ said: "through", a: [41001, 41002], b: [41002, 41001] });
    } finally {
      removeNamespace(ns);
    }
  });
});
