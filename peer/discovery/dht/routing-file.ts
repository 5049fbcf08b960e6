import { isIP } from "node:net";
import { readJsonFile, writeFileAtomic } from "../../state/atomic-file.js";
import { inReach, type PacketRules } from "./krpc-check.js";
import { isPort } from "../../../common/ip.js";

/**
 * The DHT's state kept across restarts in `<dataDir>/dht.json` (BEP 5: a client should keep its routing
 * table and node id): this node's id, and the nodes of its routing table, which join the DHT at the next start
 * beside the bootstrap nodes. It is a cache: a file that is missing or unreadable starts the DHT afresh.
 */

export const ROUTING_FILE = "dht.json";
/** More than a working routing table needs to find its way back. */
export const MAX_SAVED_NODES = 200;

export interface RoutingState {
  nodeId: Buffer | null;
  nodes: Array<{ host: string; port: number }>;
}

interface RoutingJson {
  nodeId?: unknown;
  nodes?: unknown;
}

/** What the file holds, less nodes out of the DHT's reach (a table saved on the mainline DHT, used in a test). */
export async function loadRouting(path: string, rules: PacketRules): Promise<RoutingState> {
  let saved: RoutingJson | null;
  try {
    saved = await readJsonFile<RoutingJson>(path);
  } catch {
    saved = null;
  }
  const nodeId = typeof saved?.nodeId === "string" && /^[0-9a-f]{40}$/.test(saved.nodeId) ? Buffer.from(saved.nodeId, "hex") : null;
  const nodes: RoutingState["nodes"] = [];
  for (const node of Array.isArray(saved?.nodes) ? (saved.nodes as unknown[]) : []) {
    if (nodes.length >= MAX_SAVED_NODES) break;
    if (typeof node !== "object" || node === null) continue;
    const { host, port } = node as { host?: unknown; port?: unknown };
    if (typeof host !== "string" || isIP(host) !== 4 || !inReach(rules, host)) continue;
    if (!isPort(port)) continue;
    nodes.push({ host, port });
  }
  return { nodeId, nodes };
}

export async function saveRouting(path: string, state: RoutingState): Promise<void> {
  const body = { nodeId: state.nodeId?.toString("hex") ?? null, nodes: state.nodes.slice(0, MAX_SAVED_NODES) };
  await writeFileAtomic(path, `${JSON.stringify(body)}\n`);
}
