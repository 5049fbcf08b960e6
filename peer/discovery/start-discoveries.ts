import { startDht } from "./dht.js";
import type { Discovery, DiscoveryContext, DiscoverySettings } from "./discovery.js";
import { startLanDiscovery } from "./lan.js";

/**
 * Starts every discovery the settings turn on. One that cannot start (its port taken, no network) is logged
 * and left out: the daemon shares through the others.
 */
export async function startDiscoveries(settings: DiscoverySettings, context: DiscoveryContext): Promise<Discovery[]> {
  const starting: Array<Promise<Discovery>> = [];
  if (settings.dht !== null) starting.push(startDht(settings.dht, context));
  if (settings.lan) starting.push(startLanDiscovery(context));
  const started = await Promise.allSettled(starting);
  const discoveries: Discovery[] = [];
  for (const result of started) {
    if (result.status === "fulfilled") discoveries.push(result.value);
    else context.log(`a discovery could not start: ${result.reason instanceof Error ? result.reason.message : String(result.reason)}`);
  }
  return discoveries;
}

export async function closeDiscoveries(discoveries: readonly Discovery[]): Promise<void> {
  await Promise.allSettled(discoveries.map((discovery) => discovery.close()));
}
