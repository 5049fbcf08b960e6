import dgram, { type Socket } from "node:dgram";
import type { LanInterface } from "./lan-interfaces.js";

/**
 * The sockets of LAN discovery: one receiver bound to the group's port, a member of the group on every
 * interface spoken on, and per interface one sender bound to its address, so that each datagram leaves by
 * that interface with that address as its source (the address other peers then connect to). None keeps the
 * process alive.
 */

/** One interface spoken on: its membership of the group on the receiver, and a socket that sends from its address. */
interface Link {
  lan: LanInterface;
  sender: Socket;
}

export class LanSockets {
  private readonly links = new Map<string, Link>();

  private constructor(
    private readonly receiver: Socket,
    readonly group: string,
    readonly port: number,
    private readonly onError: (message: string) => void,
  ) {}

  /** Binds the receiver; `onDatagram` gets every datagram and its source address. */
  static async open(group: string, port: number, onDatagram: (datagram: Buffer, source: string) => void, onError: (message: string) => void): Promise<LanSockets> {
    const receiver = dgram.createSocket({ type: "udp4", reuseAddr: true });
    // Bound to the group itself where the system allows it (Linux), so that unicast to the port is not even
    // delivered; reuseAddr lets a second daemon of this machine (another data dir) bind it too.
    const address = process.platform === "linux" ? group : undefined;
    await new Promise<void>((resolve, reject) => {
      const failed = (error: Error): void => reject(new Error(`cannot listen on UDP ${group}:${port}: ${error.message}`));
      receiver.once("error", failed);
      receiver.bind({ port, ...(address === undefined ? {} : { address }) }, () => {
        receiver.off("error", failed);
        resolve();
      });
    }).catch((error: unknown) => {
      closeQuietly(receiver);
      throw error;
    });
    receiver.on("message", (datagram, from) => onDatagram(datagram, from.address));
    receiver.on("error", (error) => onError(error.message));
    receiver.unref();
    return new LanSockets(receiver, group, port, onError);
  }

  interfaces(): LanInterface[] {
    return [...this.links.values()].map((link) => link.lan);
  }

  has(address: string): boolean {
    return this.links.has(address);
  }

  /** Joins the group on `lan` and opens its sender; rejects (leaving nothing open) when it cannot. */
  async join(lan: LanInterface): Promise<void> {
    const sender = dgram.createSocket({ type: "udp4" });
    try {
      await new Promise<void>((resolve, reject) => {
        sender.once("error", reject);
        sender.bind({ address: lan.address, port: 0 }, () => {
          sender.off("error", reject);
          resolve();
        });
      });
      sender.on("error", (error) => this.onError(error.message));
      sender.setMulticastInterface(lan.address);
      // One hop: the link and nothing beyond. Loopback on, so that a second daemon of this machine hears us.
      sender.setMulticastTTL(1);
      sender.setMulticastLoopback(true);
      sender.unref();
      this.receiver.addMembership(this.group, lan.address);
      this.links.set(lan.address, { lan, sender });
    } catch (error) {
      closeQuietly(sender);
      throw error;
    }
  }

  async leave(address: string): Promise<void> {
    const link = this.links.get(address);
    if (link === undefined) return;
    this.links.delete(address);
    try {
      this.receiver.dropMembership(this.group, address);
    } catch {
      // The interface went away, and its membership with it.
    }
    await new Promise<void>((resolve) => link.sender.close(() => resolve()));
  }

  /** Sends `datagram` to the group on every interface joined. */
  send(datagram: Buffer): void {
    for (const { sender } of this.links.values()) {
      sender.send(datagram, this.port, this.group, (error) => {
        if (error) this.onError(error.message);
      });
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.keys()].map((address) => this.leave(address)));
    await new Promise<void>((resolve) => this.receiver.close(() => resolve()));
  }
}

/** Closes a socket that may have closed itself already (a failed bind). */
function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // Not running: nothing to close.
  }
}
