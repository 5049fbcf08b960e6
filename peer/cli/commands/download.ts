import type { Command } from "commander";
import { resolve } from "node:path";
import { DEFAULT_WAIT_MS, defaultDataDir } from "../../config.js";
import { controlDownload, controlJson, daemonRunning } from "../../daemon/control-client.js";
import type { DownloadProgress, DownloadReply } from "../../download/downloader.js";
import { fileAsked } from "../../links/file-asked.js";
import { Errors } from "../../errors.js";
import { globals, printJson } from "../context.js";
import { DownloadInterrupt } from "../interrupt.js";
import { ProgressBar } from "../progress.js";
import { hostPort } from "../../../common/ip.js";
import type { PeerEndpoint } from "../../sources/peer-address.js";
import { collectPeer, parseSeconds } from "../options.js";
import { checkListenAddress } from "../local-addresses.js";
import { addDiscoveryOptions, discoverySettings, type DiscoveryFlags } from "../discovery-options.js";

interface DownloadFlags extends DiscoveryFlags {
  output?: string;
  force?: boolean;
  seed: boolean;
  bind?: string;
  peer?: PeerEndpoint[];
  wait: number;
  detach?: boolean;
}

export function registerDownload(program: Command): void {
  addDiscoveryOptions(program.command("download"))
    .argument("<sha1-or-link>", "the file's SHA-1 or its share link (magnet:?xt=urn:sha1:...), as `p2p share` printed them")
    .description("download a file by its SHA-1 or share link from every peer that has it; prints the path")
    .option("-o, --output <path>", "file to write, or an existing folder to write into (default: the current folder)")
    .option("--force", "replace the destination if it exists")
    .option("--no-seed", "do not share the file after downloading it")
    .option("--bind <address>", "local address for connections to peers and the tracker")
    .option("--peer <ip:port>", "a peer to download from besides the trackers' ([IPv6]:port for IPv6); repeat for several; enough alone when no tracker is up", collectPeer)
    .option("--wait <seconds>", "how long to keep asking every source for a first peer before failing", parseSeconds, DEFAULT_WAIT_MS / 1000)
    .option("--detach", "with a daemon running: leave the download to it and return at once (see p2p downloads, pause, resume, cancel)")
    .option("--json", "print one JSON object on stdout")
    .action(async (asked: string, flags: DownloadFlags, command: Command) => {
      const { trackers, dataDir, json } = globals(command);
      const { sha1, link } = fileAsked(asked);
      // Checked up front: an address this machine lacks would otherwise look like peers that never answer.
      if (flags.bind !== undefined) await checkListenAddress(flags.bind, "--bind");
      const onWaiting = (message: string): void => void process.stderr.write(`p2p: ${message}\n`);
      const output = resolve(flags.output ?? process.cwd());
      const bar = new ProgressBar();
      const interrupt = new DownloadInterrupt();
      const onProgress = (progress: DownloadProgress): void => {
        if (progress.finishing) interrupt.finishingBegun();
        bar.update(progress);
      };
      const running = await daemonRunning(dataDir);
      const peers = flags.peer?.map(({ host, port }) => hostPort(host, port));
      const body = { sha1, output, force: flags.force === true, seed: flags.seed, wait: flags.wait, ...(peers === undefined ? {} : { peers }), ...(link === undefined ? {} : { link: asked.trim() }) };
      if (flags.detach === true) {
        if (!running) throw Errors.daemonUnreachable(`--detach needs a daemon, and none runs for ${dataDir}`, "start one with `p2p daemon`, or download without --detach");
        const started = await controlJson<{ sha1: string; state: string }>(dataDir, "POST", "/v1/downloads", { ...body, detach: true });
        if (json) return printJson(started);
        process.stdout.write(`${sha1}\n`);
        process.stderr.write(`p2p: the daemon downloads it (${started.state}); see \`p2p downloads\`\n`);
        return;
      }
      let result: DownloadReply;
      try {
        if (running) {
          // Ctrl-C closes the control connection, and the daemon cancels its download when it closes.
          const onEvent = (event: unknown): void => {
            const { type, message } = event as { type?: string; message?: string };
            if (type === "waiting") onWaiting(String(message));
            else onProgress(event as DownloadProgress);
          };
          result = await controlDownload<DownloadReply>(dataDir, body, onEvent, interrupt.signal);
        } else {
          // Without a daemon, the DHT and the LAN are asked too, for look-ups only: nothing is served. What
          // downloads in this process is loaded only here: through a daemon, the CLI needs none of it.
          const [{ download, downloadReply }, { closeDiscoveries, startDiscoveries }, { TrackerClient }] = await Promise.all([
            import("../../download/downloader.js"),
            import("../../discovery/start-discoveries.js"),
            import("../../tracker-client/tracker-client.js"),
          ]);
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
            ...(link === undefined ? {} : { link }),
            waitMs: flags.wait * 1000,
            onWaiting,
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
