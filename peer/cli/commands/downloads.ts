import type { Command } from "commander";
import { controlJson, daemonRunning } from "../../daemon/control-client.js";
import { Errors } from "../../errors.js";
import { sha1Argument } from "../options.js";
import { globals, printJson } from "../context.js";
import { formatBytes } from "../progress.js";

/**
 * `p2p downloads`, `p2p pause`, `p2p resume`, `p2p cancel`: the daemon's downloads, through the same control
 * routes the dashboard uses (docs/protocol.md). They need a running daemon: without one, a download runs only
 * while its `p2p download` does.
 */

interface DownloadLine {
  sha1: string;
  name?: string;
  size?: number;
  state: string;
  verifiedBytes?: number;
  rate?: number;
  etaSeconds?: number | null;
  destination?: string;
  path?: string;
  error?: { message: string };
}

async function needDaemon(dataDir: string): Promise<void> {
  if (!(await daemonRunning(dataDir))) {
    throw Errors.daemonUnreachable(`no daemon runs for ${dataDir}`, "start one with `p2p daemon` (a download without one runs only while its `p2p download` does)");
  }
}


function line(d: DownloadLine): string {
  const size = d.size ?? 0;
  const percent = size === 0 ? 100 : Math.floor(((d.verifiedBytes ?? 0) / size) * 100);
  const rate = d.rate !== undefined && d.rate > 0 ? `, ${formatBytes(d.rate)}/s` : "";
  const eta = typeof d.etaSeconds === "number" ? `, ${Math.ceil(d.etaSeconds)} s left` : "";
  const where = d.path ?? d.destination ?? "";
  const why = d.error === undefined ? "" : `: ${d.error.message}`;
  return `${d.sha1}  ${d.state.padEnd(9)} ${String(percent).padStart(3)}%${rate}${eta}  ${d.name ?? ""}${where === "" ? "" : ` -> ${where}`}${why}`;
}

export function registerDownloads(program: Command): void {
  program
    .command("downloads")
    .description("list the daemon's downloads: running, paused, failed, and those that ended lately")
    .option("--json", "print one JSON object on stdout")
    .action(async (_flags: unknown, command: Command) => {
      const { dataDir, json } = globals(command);
      await needDaemon(dataDir);
      const downloads = await controlJson<DownloadLine[]>(dataDir, "GET", "/v1/downloads");
      if (json) return printJson({ downloads });
      if (downloads.length === 0) process.stderr.write("p2p: no downloads\n");
      for (const d of downloads) process.stdout.write(`${line(d)}\n`);
    });

  const act = (name: string, description: string, method: string, suffix: string, done: string): void => {
    program
      .command(name)
      .argument("<sha1>", "the SHA-1 of a download of the daemon's")
      .description(description)
      .option("--json", "print one JSON object on stdout")
      .action(async (raw: string, _flags: unknown, command: Command) => {
        const { dataDir, json } = globals(command);
        const sha1 = sha1Argument(raw, "a file id is 40 hex characters, as `p2p downloads` lists them");
        await needDaemon(dataDir);
        const reply = await controlJson<Record<string, unknown>>(dataDir, method, `/v1/downloads/${sha1}${suffix}`);
        if (json) return printJson(reply);
        process.stderr.write(`p2p: ${done} ${sha1}\n`);
      });
  };
  act("pause", "pause a download of the daemon's: it stops where it is, its verified part kept (also across restarts)", "POST", "/pause", "paused");
  act("resume", "resume a paused download of the daemon's, from the chunks it verified", "POST", "/resume", "resumed");
  act("cancel", "cancel a download of the daemon's: it stops, and its partial file and record are removed", "DELETE", "", "cancelled");
}
