import { afterEach, describe, expect, it } from "vitest";
import { discoverySettings } from "../../peer/cli/discovery-options.js";
import { DEFAULT_DHT_BOOTSTRAP } from "../../peer/config.js";
import { P2PError } from "../../peer/errors.js";

/**
 * Where the DHT's bootstrap nodes come from. What keeps every test on this machine: the test config turns
 * the DHT off for every process a test starts, and local nodes given in any form replace the public routers.
 */

const saved = { P2P_DHT: process.env["P2P_DHT"], P2P_DHT_BOOTSTRAP: process.env["P2P_DHT_BOOTSTRAP"] };
const flags = { dht: true, lanDiscovery: false };

afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe("DHT settings", () => {
  it("are off in every test process unless a test turns them on (vitest.config.mts)", () => {
    expect(saved.P2P_DHT).toBe("off");
    expect(discoverySettings(flags).dht).toBeNull();
  });

  it("use --dht-bootstrap, else P2P_DHT_BOOTSTRAP, and only then the public routers", () => {
    process.env["P2P_DHT"] = "on";
    delete process.env["P2P_DHT_BOOTSTRAP"];
    expect(discoverySettings(flags).dht).toEqual({ port: null, bootstrap: [...DEFAULT_DHT_BOOTSTRAP] });
    process.env["P2P_DHT_BOOTSTRAP"] = "127.0.70.1:46881, 127.0.70.2:46881";
    expect(discoverySettings(flags).dht?.bootstrap).toEqual(["127.0.70.1:46881", "127.0.70.2:46881"]);
    expect(discoverySettings({ ...flags, dhtBootstrap: ["127.0.70.3:46881"], dhtPort: 46000 }).dht).toEqual({ port: 46000, bootstrap: ["127.0.70.3:46881"] });
    expect(discoverySettings({ ...flags, dht: false }).dht).toBeNull();
  });

  it("refuse a bootstrap node that is not host:port", () => {
    process.env["P2P_DHT"] = "on";
    process.env["P2P_DHT_BOOTSTRAP"] = "127.0.70.1";
    expect(() => discoverySettings(flags)).toThrow(P2PError);
  });
});
