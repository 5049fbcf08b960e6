import { isIP } from "node:net";
import { MappingErrors } from "./port-mapper.js";

/**
 * A UPnP IGD's description and SOAP control, versions 1 and 2 (WANIPConnection:1/2, WANPPPConnection:1).
 * Routers' XML is read with a few anchored patterns, not a parser: only three fields matter, every one is
 * checked, and a reply is capped in size and time. A control URL is followed only on the description's own
 * host and port.
 */

const MAX_BODY_BYTES = 64 * 1024;
const SERVICES = [
  "urn:schemas-upnp-org:service:WANIPConnection:2",
  "urn:schemas-upnp-org:service:WANIPConnection:1",
  "urn:schemas-upnp-org:service:WANPPPConnection:1",
];

export interface IgdService {
  serviceType: string;
  controlUrl: URL;
  version: 1 | 2;
}

function tag(xml: string, name: string): string | null {
  const match = new RegExp(`<(?:[A-Za-z0-9_]+:)?${name}(?:\\s[^>]*)?>([^<]{0,2048})</(?:[A-Za-z0-9_]+:)?${name}>`).exec(xml);
  return match === null ? null : match[1]!.trim();
}

/** The best WAN connection service in a description fetched from `location`, or null. */
export function parseDescription(xml: string, location: URL): IgdService | null {
  const found: IgdService[] = [];
  for (const block of xml.match(/<service>[\s\S]*?<\/service>/g) ?? []) {
    const serviceType = tag(block, "serviceType");
    const control = tag(block, "controlURL");
    if (serviceType === null || control === null || !SERVICES.includes(serviceType)) continue;
    let controlUrl: URL;
    try {
      controlUrl = new URL(control.replace(/&amp;/g, "&"), location);
    } catch {
      continue;
    }
    if (controlUrl.protocol !== "http:" || controlUrl.host !== location.host) continue;
    found.push({ serviceType, controlUrl, version: serviceType.endsWith(":2") ? 2 : 1 });
  }
  found.sort((a, b) => SERVICES.indexOf(a.serviceType) - SERVICES.indexOf(b.serviceType));
  return found[0] ?? null;
}

/** A body of at most MAX_BODY_BYTES, or an error. */
async function readCapped(response: Response): Promise<string> {
  if (response.body === null) return "";
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw MappingErrors.badReply("UPnP", "reply too large");
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export async function fetchDescription(location: URL, limitMs: number): Promise<IgdService> {
  const response = await fetch(location, { signal: AbortSignal.timeout(limitMs), redirect: "error" }).catch((error: unknown) => {
    throw MappingErrors.noAnswer(`UPnP description ${location.href} (${error instanceof Error ? error.message : String(error)})`);
  });
  const xml = await readCapped(response);
  if (!response.ok) throw MappingErrors.badReply("UPnP", `description answered ${response.status}`);
  const service = parseDescription(xml, location);
  if (service === null) throw MappingErrors.refused("UPnP", "the device offers no WAN connection service");
  return service;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A SOAP fault's UPnP error code (718 conflict, 725 only permanent leases, ...), or null. */
export class SoapFault extends Error {
  constructor(
    readonly upnpCode: number | null,
    message: string,
  ) {
    super(message);
  }
}

export async function soap(service: IgdService, action: string, args: Record<string, string | number>, limitMs: number): Promise<Record<string, string>> {
  const body =
    `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">` +
    `<s:Body><u:${action} xmlns:u="${service.serviceType}">` +
    Object.entries(args)
      .map(([name, value]) => `<${name}>${escapeXml(String(value))}</${name}>`)
      .join("") +
    `</u:${action}></s:Body></s:Envelope>`;
  const response = await fetch(service.controlUrl, {
    method: "POST",
    headers: { "content-type": 'text/xml; charset="utf-8"', soapaction: `"${service.serviceType}#${action}"` },
    body,
    signal: AbortSignal.timeout(limitMs),
    redirect: "error",
  }).catch((error: unknown) => {
    throw MappingErrors.noAnswer(`UPnP ${action} (${error instanceof Error ? error.message : String(error)})`);
  });
  const xml = await readCapped(response);
  if (!response.ok) {
    const code = Number(tag(xml, "errorCode") ?? "NaN");
    const description = tag(xml, "errorDescription") ?? `HTTP ${response.status}`;
    throw new SoapFault(Number.isInteger(code) ? code : null, `UPnP ${action} refused: ${code} ${description}`);
  }
  const out: Record<string, string> = {};
  for (const name of ["NewExternalIPAddress", "NewReservedPort"]) {
    const value = tag(xml, name);
    if (value !== null) out[name] = value;
  }
  return out;
}

export function validIpv4(text: string | undefined): text is string {
  return text !== undefined && isIP(text) === 4 && text !== "0.0.0.0";
}
