import { localAddressTowards } from "./gateway.js";
import { fetchDescription, soap, SoapFault, validIpv4, type IgdService } from "./igd.js";
import { MappingErrors, PortMappingError, validPort, type Mapping, type MapRequest, type PortMapper } from "./port-mapper.js";
import { searchGateway } from "./ssdp.js";

/**
 * UPnP IGD versions 1 and 2: find the router by SSDP, read its description, then AddPortMapping (renewed by
 * the same call), DeletePortMapping at the stop. Where the external port is taken (718), an IGD 2 router is
 * asked for any port (AddAnyPortMapping), an IGD 1 router for a few others; a router that grants only
 * permanent leases (725) gets one, removed at the stop.
 */

const CONFLICT = 718;
const ONLY_PERMANENT = 725;
const DESCRIPTION = "p2p-share";

export class UpnpMapper implements PortMapper {
  readonly name = "upnp";
  private service: IgdService | null = null;

  constructor(
    private readonly searchMs = 2000,
    private readonly limitMs = 3000,
  ) {}

  private async find(): Promise<IgdService> {
    if (this.service !== null) return this.service;
    const location = await searchGateway(this.searchMs);
    if (location === null) throw MappingErrors.noAnswer("UPnP search (SSDP)");
    this.service = await fetchDescription(location, this.limitMs);
    return this.service;
  }

  async map(request: MapRequest): Promise<Mapping> {
    const service = await this.find();
    const internalClient = await localAddressTowards(service.controlUrl.hostname);
    if (internalClient === null) throw MappingErrors.noGateway(`no route to ${service.controlUrl.hostname}`);
    const externalIp = (await this.call(service, "GetExternalIPAddress", {}))["NewExternalIPAddress"];
    if (!validIpv4(externalIp)) throw MappingErrors.badReply("UPnP", "external address");
    const add = (action: string, externalPort: number, lease: number): Promise<Record<string, string>> =>
      this.call(service, action, {
        NewRemoteHost: "",
        NewExternalPort: externalPort,
        NewProtocol: "TCP",
        NewInternalPort: request.internalPort,
        NewInternalClient: internalClient,
        NewEnabled: 1,
        NewPortMappingDescription: DESCRIPTION,
        NewLeaseDuration: lease,
      });
    let lease = request.lifetimeSeconds;
    const tryPort = async (externalPort: number): Promise<number> => {
      try {
        await add("AddPortMapping", externalPort, lease);
      } catch (error) {
        if (!(error instanceof SoapFault) || error.upnpCode !== ONLY_PERMANENT || lease === 0) throw error;
        lease = 0;
        await add("AddPortMapping", externalPort, lease);
      }
      return externalPort;
    };
    let externalPort: number | null = null;
    const candidates = [request.externalPort, ...[0, 1, 2].map(() => 1024 + Math.floor(Math.random() * 64511))];
    for (const candidate of candidates) {
      try {
        externalPort = await tryPort(candidate);
        break;
      } catch (error) {
        if (!(error instanceof SoapFault) || error.upnpCode !== CONFLICT) throw this.asMappingError(error);
        if (service.version === 2) {
          const reserved = Number((await add("AddAnyPortMapping", candidate, lease))["NewReservedPort"]);
          if (!validPort(reserved)) throw MappingErrors.badReply("UPnP", "reserved port");
          externalPort = reserved;
          break;
        }
      }
    }
    if (externalPort === null) throw MappingErrors.refused("UPnP", "every external port tried is taken");
    return { protocol: service.version === 2 ? "upnp-igd2" : "upnp-igd1", gateway: service.controlUrl.hostname, internalPort: request.internalPort, externalIp, externalPort, lifetimeSeconds: lease };
  }

  async unmap(mapping: Mapping): Promise<void> {
    const service = await this.find();
    await this.call(service, "DeletePortMapping", { NewRemoteHost: "", NewExternalPort: mapping.externalPort, NewProtocol: "TCP" });
  }

  private async call(service: IgdService, action: string, args: Record<string, string | number>): Promise<Record<string, string>> {
    return soap(service, action, args, this.limitMs);
  }

  private asMappingError(error: unknown): PortMappingError {
    if (error instanceof PortMappingError) return error;
    return MappingErrors.refused("UPnP", error instanceof Error ? error.message : String(error));
  }
}
