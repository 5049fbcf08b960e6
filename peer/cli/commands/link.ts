import type { Command } from "commander";
import { controlJson, daemonRunning } from "../../daemon/control-client.js";
import { Errors } from "../../errors.js";
import { qrTerminal } from "../../links/qr.js";
import { formatShareLink } from "../../links/share-link.js";
import { ShareRegistry } from "../../state/share-registry.js";
import { sha1Argument } from "../options.js";
import { globals, printJson } from "../context.js";

/**
 * `p2p link <sha1>`: the share link of a file shared here. A running daemon gives its own (its trackers and
 * its address when it has one); without one it is made from the data dir and the tracker setting.
 */
async function linkOf(dataDir: string, sha1: string, trackers: readonly string[]): Promise<string> {
  if (await daemonRunning(dataDir)) {
    const shares = await controlJson<Array<{ sha1: string; link: string }>>(dataDir, "GET", "/v1/shares");
    const found = shares.find((share) => share.sha1 === sha1);
    if (found === undefined) throw Errors.notShared(`${sha1} is not shared by the daemon of ${dataDir}`, "share it first: p2p share <file>");
    return found.link;
  }
  const share = (await ShareRegistry.open(dataDir)).get(sha1);
  if (share === undefined) throw Errors.notShared(`${sha1} is not shared from ${dataDir}`, "share it first: p2p share <file>");
  return formatShareLink({ sha1, name: share.manifest.name, size: share.size, trackers: [...trackers], peers: [], manifestId: share.manifestId });
}

export function registerLink(program: Command): void {
  program
    .command("link")
    .argument("<sha1>", "the SHA-1 of a file shared here")
    .description("print the share link of a shared file: all another machine needs to download it")
    .option("--qr", "also print it as a QR code")
    .option("--json", "print one JSON object on stdout")
    .action(async (rawSha1: string, flags: { qr?: boolean }, command: Command) => {
      const { dataDir, trackers, json } = globals(command);
      const sha1 = sha1Argument(rawSha1, "a file id is 40 hex characters, as `p2p share` prints it");
      const link = await linkOf(dataDir, sha1, trackers);
      if (json) return printJson({ sha1, link });
      process.stdout.write(`${link}\n`);
      if (flags.qr === true) process.stdout.write(qrTerminal(link));
    });
}
