import type { Command } from "commander";
import { access, constants, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { controlJson, daemonRunning } from "../../daemon/control-client.js";
import { Errors, fromFsError, P2PError } from "../../errors.js";
import { globals, printJson } from "../context.js";
import { qrTerminal } from "../../links/qr.js";
import { checkListenAddress, isLoopback } from "../local-addresses.js";
import { addServeOptions, daemonSettings, serveUntilSignal, type ServeOptions } from "./daemon.js";

interface ShareReply {
  sha1: string;
  name: string;
  path: string;
  size: number;
  manifestId: string;
  announced: boolean;
  link: string;
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

/**
 * How another machine gets the file: the link carries the trackers (and this daemon's address when it has
 * one), so it is all a receiver needs. A link whose trackers are all loopback works on this machine alone,
 * which is said.
 */
function downloadHint(link: string, trackers: readonly string[]): string {
  const command = `p2p download '${link}'`;
  const loopback = trackers.length > 0 && trackers.every((url) => isLoopback(new URL(url).hostname.replace(/^\[(.*)\]$/, "$1")));
  return loopback
    ? `download it with: ${command} (this machine only: for other machines, serve the tracker on an address they reach, e.g. p2p up --tracker-host 0.0.0.0)`
    : `download it elsewhere with: ${command}`;
}

/** The QR code of a link; the file is shared either way, so a link too long for one is only said. */
function qrOrWhyNot(link: string): string {
  try {
    return qrTerminal(link);
  } catch (error) {
    if (error instanceof P2PError) return `p2p: no QR code: ${error.message}\n`;
    throw error;
  }
}

/** The warning of a share no tracker took: it is shared all the same, and announced as soon as one answers. */
function unannouncedWarning(trackers: readonly string[]): string {
  const which = trackers.length === 1 ? `the tracker at ${trackers[0]!} did not take the announce` : `none of the trackers (${trackers.join(", ")}) took the announce`;
  return `warning: ${which}; shared all the same, announced to the DHT and the LAN where they are on, and to the trackers once they answer (retried with backoff; see p2p status)`;
}

export function registerShare(program: Command, stop?: AbortSignal): void {
  addServeOptions(
    program
      .command("share")
      .alias("register")
      .argument("<file>", "the file to share")
      .description("share a file: prints its SHA-1, which anyone can download it by")
      .option("--qr", "also print the share link as a QR code (on stderr)")
      .option("--json", "print one JSON object on stdout"),
  ).action(async (file: string, options: ServeOptions & { qr?: boolean }, command: Command) => {
    const { trackers, dataDir, json } = globals(command);
    const path = resolve(file);
    await checkShareable(path);
    const print = (reply: ShareReply, foreground: boolean, announcedTo: readonly string[]): void => {
      if (json) printJson({ ...reply, daemon: !foreground });
      else process.stdout.write(`${reply.sha1}\n`);
      process.stderr.write(`p2p: sharing ${reply.name} (${reply.size} bytes)\n`);
      if (!reply.announced) process.stderr.write(`p2p: ${unannouncedWarning(announcedTo)}\n`);
      process.stderr.write(`p2p: ${downloadHint(reply.link, announcedTo)}\n`);
      if (options.qr === true) process.stderr.write(qrOrWhyNot(reply.link));
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
    const { startDaemon } = await import("../../daemon/daemon.js");
    const daemon = await startDaemon({ ...daemonSettings(options), trackers, dataDir });
    try {
      // With every tracker down it is shared all the same (a warning): the DHT and the LAN find it, and the
      // trackers are told once they answer.
      const { share, announced } = await daemon.addShare(path);
      print({ sha1: share.sha1, name: share.manifest.name, path: share.path, size: share.size, manifestId: share.manifestId, announced, link: daemon.link(share) }, true, trackers);
      process.stderr.write(`p2p: serving on port ${daemon.publicPort}; Ctrl-C stops\n`);
    } catch (error) {
      await daemon.close();
      throw error;
    }
    await serveUntilSignal(daemon, stop);
  });
}
