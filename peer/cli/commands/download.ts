import type { Command } from "commander";
import { resolve } from "node:path";
import { normalizeSha1 } from "../../../common/ids.js";
import { defaultDataDir } from "../../config.js";
import { controlDownload, daemonRunning } from "../../daemon/control-client.js";
import { download, downloadReply, type DownloadProgress, type DownloadReply } from "../../download/downloader.js";
import { Errors } from "../../errors.js";
import { TrackerClient } from "../../tracker-client/tracker-client.js";
import { globals, printJson } from "../context.js";
import { DownloadInterrupt } from "../interrupt.js";
import { ProgressBar } from "../progress.js";
import { hostPort } from "../../../common/ip.js";
import type { PeerEndpoint } from "../../sources/peer-address.js";
import { collectPeer } from "../options.js";
import { addDiscoveryOptions, discoverySettings, type DiscoveryFlags } from "../discovery-options.js";
import { closeDiscoveries, startDiscoveries } from "../../discovery/start-discoveries.js";

interface DownloadFlags extends DiscoveryFlags {
  output?: string;
  force?: boolean;
  seed: boolean;
  bind?: string;
  peer?: PeerEndpoint[];
}

export function registerDownload(program: Command): void {
  addDiscoveryOptions(program.command("download"))
    .argument("<sha1>", "the file's SHA-1, as `p2p share` printed it")
    .description("download a file by its SHA-1 from every peer that has it; prints the path")
    .option("-o, --output <path>", "file to write, or an existing folder to write into (default: the current folder)")
    .option("--force", "replace the destination if it exists")
    .option("--no-seed", "do not share the file after downloading it")
    .option("--bind <address>", "local address for connections to peers and the tracker")
    .option("--peer <ip:port>", "a peer to download from besides the trackers' ([IPv6]:port for IPv6); repeat for several; enough alone when no tracker is up", collectPeer)
    .option("--json", "print one JSON object on stdout")
    .action(async (rawSha1: string, flags: DownloadFlags, command: Command) => {
      const { trackers, dataDir, json } = globals(command);
      const sha1 = normalizeSha1(rawSha1);
      if (sha1 === null) throw Errors.invalidHash(`${JSON.stringify(rawSha1)} is not a SHA-1`, "a file id is 40 hex characters, as `p2p share` prints it");
      const output = resolve(flags.output ?? process.cwd());
      const bar = new ProgressBar();
      const interrupt = new DownloadInterrupt();
      const onProgress = (progress: DownloadProgress): void => {
        if (progress.finishing) interrupt.finishingBegun();
        bar.update(progress);
      };
      let result: DownloadReply;
      try {
        if (await daemonRunning(dataDir)) {
          const peers = flags.peer?.map(({ host, port }) => hostPort(host, port));
          const body = { sha1, output, force: flags.force === true, seed: flags.seed, ...(peers === undefined ? {} : { peers }) };
          // Ctrl-C closes the control connection, and the daemon cancels its download when it closes.
          result = await controlDownload<DownloadReply>(dataDir, body, (event) => onProgress(event as DownloadProgress), interrupt.signal);
        } else {
          // Without a daemon, the DHT and the LAN are asked too, for look-ups only: nothing is served.
          const settings = discoverySettings(flags);
          const discoveries = await startDiscoveries(settings, {
            host: flags.bind ?? "0.0.0.0",
            publicPort: null,
            dataDir,
            log: (line) => process.stderr.write(`p2p: ${line}\n`),
          });
          const done = await download({
            sha1,
            output,
            force: flags.force === true,
            seed: flags.seed,
            dataDir,
            trackers: trackers.map((url) => new TrackerClient(url, flags.bind)),
            ...(flags.bind === undefined ? {} : { localAddress: flags.bind }),
            ...(flags.peer === undefined ? {} : { peers: flags.peer }),
            sources: discoveries.map((discovery) => discovery.source),
            onProgress,
            signal: interrupt.signal,
          }).finally(() => closeDiscoveries(discoveries));
          result = downloadReply(done, false);
        }
        // Done: a Ctrl-C from here on (as the result is printed) is ignored, not the download's end.
        interrupt.finishingBegun();
      } catch (error) {
        throw interrupt.explain(error);
      } finally {
        bar.done();
      }
      if (json) {
        printJson({
          sha1: result.sha1,
          path: result.path,
          size: result.size,
          bytesFetched: result.bytesFetched,
          resumedBytes: result.resumedBytes,
          peers: result.peers,
          shared: result.shared,
          seeding: result.seeding,
        });
      } else {
        process.stdout.write(`${result.path}\n`);
      }
      if (result.shared && !result.seeding) {
        const daemon = dataDir === resolve(defaultDataDir()) ? "p2p daemon" : `p2p --data-dir ${dataDir} daemon`;
        process.stderr.write(`p2p: shared from ${dataDir}, but not served until a daemon runs for it: start one with \`${daemon}\`\n`);
      }
    });
}
