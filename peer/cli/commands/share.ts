import type { Command } from "commander";
import { access, constants, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { controlJson, daemonRunning } from "../../daemon/control-client.js";
import { startDaemon } from "../../daemon/daemon.js";
import { Errors, fromFsError } from "../../errors.js";
import { globals, printJson } from "../context.js";
import { checkListenAddress, isLoopback } from "../local-addresses.js";
import { addServeOptions, daemonSettings, serveUntilSignal, type ServeOptions } from "./daemon.js";

interface ShareReply {
  sha1: string;
  name: string;
  path: string;
  size: number;
  manifestId: string;
  announced: boolean;
}

/** Refuses what cannot be shared before any work: a missing path, a folder, a file we may not read. */
async function checkShareable(path: string): Promise<void> {
  const info = await stat(path).catch((error: unknown) => {
    throw fromFsError(error, path, "looking at it");
  });
  if (info.isDirectory()) throw Errors.notAFile(`${path} is a directory, not a file`, "share a file; to share a folder, share each file in it");
  if (!info.isFile()) throw Errors.notAFile(`${path} is not a regular file`);
  await access(path, constants.R_OK).catch((error: unknown) => {
    throw fromFsError(error, path, "opening it");
  });
}

/** The command another machine runs to download the file: it needs the trackers' URLs, which the share was announced to. */
function downloadHint(sha1: string, trackers: readonly string[]): string {
  const command = `p2p ${trackers.map((url) => `--tracker ${url}`).join(" ")} download ${sha1}`;
  // A URL's IPv6 host keeps its brackets.
  const loopback = trackers.every((url) => isLoopback(new URL(url).hostname.replace(/^\[(.*)\]$/, "$1")));
  return loopback
    ? `download it with: ${command} (this machine only: for other machines, serve the tracker on an address they reach, e.g. p2p up --tracker-host 0.0.0.0)`
    : `download it elsewhere with: ${command}`;
}

export function registerShare(program: Command, stop?: AbortSignal): void {
  addServeOptions(
    program
      .command("share")
      .alias("register")
      .argument("<file>", "the file to share")
      .description("share a file: prints its SHA-1, which anyone can download it by")
      .option("--json", "print one JSON object on stdout"),
  ).action(async (file: string, options: ServeOptions, command: Command) => {
    const { trackers, dataDir, json } = globals(command);
    const path = resolve(file);
    await checkShareable(path);
    const print = (reply: ShareReply, foreground: boolean, announcedTo: readonly string[]): void => {
      if (json) printJson({ ...reply, daemon: !foreground });
      else process.stdout.write(`${reply.sha1}\n`);
      process.stderr.write(`p2p: sharing ${reply.name} (${reply.size} bytes)${reply.announced ? "" : ": the tracker is unreachable for now, retrying"}\n`);
      process.stderr.write(`p2p: ${downloadHint(reply.sha1, announcedTo)}\n`);
    };
    if (await daemonRunning(dataDir)) {
      // The daemon announces to its own trackers, whatever --tracker says: those are the ones to name.
      const reply = await controlJson<ShareReply>(dataDir, "POST", "/v1/shares", { path });
      const status = await controlJson<{ trackers?: Array<{ url: string }> }>(dataDir, "GET", "/v1/status").catch(() => ({ trackers: undefined }));
      print(reply, false, status.trackers?.map((t) => t.url) ?? trackers);
      return;
    }
    // No daemon for this data dir: serve in the foreground, as the original did, until Ctrl-C.
    await checkListenAddress(options.host, "--host");
    const daemon = await startDaemon({ ...daemonSettings(options), trackers, dataDir });
    try {
      const { share, announced } = await daemon.addShare(path);
      if (!announced) {
        const which = trackers.length === 1 ? `the tracker at ${trackers[0]!}` : `none of the trackers (${trackers.join(", ")})`;
        throw Errors.trackerUnreachable(`${path} is shared in ${dataDir}, but ${which} did not take the announce`, "start the tracker (p2p tracker) or pass --tracker; `p2p daemon` will announce it when it can");
      }
      print({ sha1: share.sha1, name: share.manifest.name, path: share.path, size: share.size, manifestId: share.manifestId, announced }, true, trackers);
      process.stderr.write(`p2p: serving on port ${daemon.publicPort}; Ctrl-C stops\n`);
    } catch (error) {
      await daemon.close();
      throw error;
    }
    await serveUntilSignal(daemon, stop);
  });
}
