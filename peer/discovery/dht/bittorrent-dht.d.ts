/** The part of bittorrent-dht (11.x, untyped) this project uses, as its README documents it. */
declare module "bittorrent-dht" {
  import type { EventEmitter } from "node:events";
  import type { Socket } from "node:dgram";

  export interface DhtNode {
    host: string;
    port: number;
  }

  export interface DhtOptions {
    nodeId?: Buffer;
    /** host:port strings; false for none (undefined means the public routers). */
    bootstrap: string[] | false;
    /** The UDP socket to use (passed on to k-rpc-socket). */
    socket?: Socket;
    maxTables?: number;
    maxValues?: number;
    maxPeers?: number;
    maxAge?: number;
    concurrency?: number;
    timeBucketOutdated?: number;
  }

  export default class DHT extends EventEmitter {
    constructor(options: DhtOptions);
    readonly nodeId: Buffer;
    readonly listening: boolean;
    readonly ready: boolean;
    readonly destroyed: boolean;
    listen(port: number, address: string, onListening?: () => void): void;
    address(): { address: string; family: string; port: number };
    /** A non-zero port is announced as given (implied_port 0). */
    announce(infoHash: Buffer, port: number, callback: (error: Error | null) => void): void;
    /** Emits `peer` (peer, infoHash, from) for each peer found; returns an abort function. */
    lookup(infoHash: Buffer, callback: (error: Error | null, nodesWithPeers: number) => void): () => void;
    addNode(node: DhtNode): void;
    toJSON(): { nodes: DhtNode[] };
    destroy(callback?: () => void): void;
  }
}
