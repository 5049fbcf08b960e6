import { defaultGateway } from "./gateway.js";
import { orAfter } from "../time-limit.js";
import { clampLease, DEFAULT_LEASE_SECONDS, renewDelayMs, retryDelayMs, SEARCH_AGAIN_MS } from "./lease.js";
import { NatPmpMapper } from "./natpmp.js";
import { PcpMapper } from "./pcp.js";
import type { MapperName, Mapping, MappingProtocol, PortMapper } from "./port-mapper.js";
import { UpnpMapper } from "./upnp.js";

/**
 * This daemon's port mapping on its home router: at start the mappers are tried in turn (PCP and NAT-PMP to
 * the default gateway, then UPnP found by SSDP) and the first mapping granted is kept, renewed at half its
 * lease, and removed on a clean stop (within a time limit). Whoever announces the daemon is told its external
 * port through `onChange`. Nothing here throws to the daemon: a router that is absent, refuses, or lies is a
 * line in status().
 */

/** `auto` tries every protocol; a name tries that one only (tests, and a user who knows their router). */
export type PortMappingChoice = "off" | "auto" | MapperName;

export interface PortMappingStatus {
  state: "off" | "searching" | "mapped" | "none";
  protocol: MappingProtocol | null;
  gateway: string | null;
  internalPort: number;
  externalIp: string | null;
  externalPort: number | null;
  /** Seconds granted; 0 for permanent. */
  lifetimeSeconds: number | null;
  expiresAt: string | null;
  renewals: number;
  /** Why there is none, or the last renewal's failure. */
  detail: string;
}

export interface PortMappingOptions {
  internalPort: number;
  choice: Exclude<PortMappingChoice, "off">;
  lifetimeSeconds?: number;
  /** The mappers to try, in order (tests); by default from `choice` and the default gateway. */
  mappers?: () => Promise<PortMapper[]>;
  onChange: (mapping: Mapping | null) => void;
  log: (line: string) => void;
}

/** The status of a daemon that does not map its port (`--no-port-mapping`, or it listens on loopback). */
export function offStatus(internalPort: number, detail: string): PortMappingStatus {
  return { state: "off", protocol: null, gateway: null, internalPort, externalIp: null, externalPort: null, lifetimeSeconds: null, expiresAt: null, renewals: 0, detail };
}

/** How long a stop waits for the router to remove the mapping. */
export const UNMAP_LIMIT_MS = 2000;

export async function defaultMappers(choice: Exclude<PortMappingChoice, "off">): Promise<PortMapper[]> {
  const gateway = await defaultGateway();
  const mappers: PortMapper[] = [];
  if (gateway !== null && (choice === "auto" || choice === "pcp")) mappers.push(new PcpMapper(gateway));
  if (gateway !== null && (choice === "auto" || choice === "natpmp")) mappers.push(new NatPmpMapper(gateway));
  if (choice === "auto" || choice === "upnp") mappers.push(new UpnpMapper());
  return mappers;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class PortMapping {
  private mapping: Mapping | null = null;
  private mapper: PortMapper | null = null;
  private state: PortMappingStatus["state"] = "searching";
  private detail = "";
  private renewals = 0;
  private failures = 0;
  private expiresAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly lease: number;
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: PortMappingOptions) {
    this.lease = clampLease(options.lifetimeSeconds ?? DEFAULT_LEASE_SECONDS);
  }

  /** Looks for a router and maps the port; resolves with the mapping, or null when none was granted. */
  start(): Promise<Mapping | null> {
    const work = this.search();
    this.running = work;
    return work;
  }

  current(): Mapping | null {
    return this.mapping;
  }

  status(): PortMappingStatus {
    const m = this.mapping;
    return {
      state: this.state,
      protocol: m?.protocol ?? null,
      gateway: m?.gateway ?? null,
      internalPort: this.options.internalPort,
      externalIp: m?.externalIp ?? null,
      externalPort: m?.externalPort ?? null,
      lifetimeSeconds: m?.lifetimeSeconds ?? null,
      expiresAt: m === null || m.lifetimeSeconds === 0 ? null : new Date(this.expiresAt).toISOString(),
      renewals: this.renewals,
      detail: this.detail,
    };
  }

  /** No renewal from now on; the mapping is removed, waiting at most `limitMs` for the router. Safe twice. */
  async close(limitMs = UNMAP_LIMIT_MS): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    // A search or renewal on its way may still grant a mapping: wait for it (within the limit) and remove it too.
    const deadline = Date.now() + limitMs;
    await within(this.running, limitMs);
    const mapping = this.mapping;
    const mapper = this.mapper;
    this.mapping = null;
    this.state = "none";
    this.detail = "stopped";
    if (mapping === null || mapper === null) return;
    try {
      await within(mapper.unmap(mapping), Math.max(0, deadline - Date.now()), true);
      this.options.log(`port mapping ${describe(mapping)} removed`);
    } catch (error) {
      this.options.log(`port mapping ${describe(mapping)} not removed: ${message(error)} (it expires by itself)`);
    }
  }

  private async search(): Promise<Mapping | null> {
    const mappers = await (this.options.mappers ?? (() => defaultMappers(this.options.choice)))().catch(() => []);
    const why: string[] = [];
    for (const mapper of mappers) {
      if (this.closed) return null;
      try {
        const mapping = await mapper.map({ internalPort: this.options.internalPort, externalPort: this.options.internalPort, lifetimeSeconds: this.lease });
        this.granted(mapper, mapping);
        this.options.log(`port mapping: ${describe(mapping)}`);
        this.options.onChange(mapping);
        return mapping;
      } catch (error) {
        why.push(`${mapper.name}: ${message(error)}`);
      }
    }
    this.state = "none";
    this.detail = mappers.length === 0 ? "no router to ask (no default gateway, UPnP not chosen)" : why.join("; ");
    this.options.log(`no port mapping (${this.detail}); others reach this daemon only if its port is open`);
    this.schedule(SEARCH_AGAIN_MS, () => this.search());
    return null;
  }

  private granted(mapper: PortMapper, mapping: Mapping): void {
    // A router may grant more than asked; it is asked again within what was asked, whatever it claims.
    const lifetime = mapping.lifetimeSeconds === 0 ? 0 : Math.min(clampLease(mapping.lifetimeSeconds), this.lease);
    this.mapper = mapper;
    this.mapping = { ...mapping, lifetimeSeconds: mapping.lifetimeSeconds === 0 ? 0 : clampLease(mapping.lifetimeSeconds) };
    this.state = "mapped";
    this.detail = "";
    this.failures = 0;
    this.expiresAt = Date.now() + lifetime * 1000;
    const delay = renewDelayMs(lifetime);
    if (delay !== null) this.schedule(delay, () => this.renew());
  }

  private async renew(): Promise<void> {
    const mapper = this.mapper;
    const previous = this.mapping;
    if (mapper === null || previous === null || this.closed) return;
    try {
      const mapping = await mapper.map({ internalPort: previous.internalPort, externalPort: previous.externalPort, lifetimeSeconds: this.lease });
      if (this.closed) {
        this.mapping = mapping;
        return;
      }
      this.renewals += 1;
      this.granted(mapper, mapping);
      if (mapping.externalPort !== previous.externalPort || mapping.externalIp !== previous.externalIp) {
        this.options.log(`port mapping changed: ${describe(mapping)}`);
        this.options.onChange(mapping);
      }
    } catch (error) {
      this.failures += 1;
      this.detail = `renewal failed: ${message(error)}`;
      const left = this.expiresAt - Date.now();
      if (left <= 0) {
        this.options.log(`port mapping ${describe(previous)} lapsed (${this.detail}); searching again`);
        this.mapping = null;
        this.mapper = null;
        this.state = "searching";
        this.options.onChange(null);
        this.schedule(retryDelayMs(this.failures, 120_000), () => this.search());
        return;
      }
      this.schedule(retryDelayMs(this.failures, left), () => this.renew());
    }
  }

  private schedule(delayMs: number, run: () => Promise<unknown>): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.running = run();
    }, delayMs);
    this.timer.unref();
  }
}

export function describe(mapping: Mapping): string {
  const lease = mapping.lifetimeSeconds === 0 ? "permanent" : `lease ${mapping.lifetimeSeconds} s`;
  return `${mapping.protocol} via ${mapping.gateway}: ${mapping.externalIp ?? "?"}:${mapping.externalPort} -> port ${mapping.internalPort}, ${lease}`;
}

/** Resolves when `work` settles or after `limitMs`; with `rethrow`, a rejection or the time limit is thrown. */
async function within<T>(work: Promise<T>, limitMs: number, rethrow = false): Promise<void> {
  if (!rethrow) return void (await orAfter(work.catch(() => undefined), limitMs, undefined));
  if (!(await orAfter(work.then(() => true), limitMs, false))) throw new Error(`no answer within ${limitMs} ms`);
}
