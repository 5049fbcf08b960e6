import type { Command } from "commander";
import { controlJson, daemonRunning } from "../../daemon/control-client.js";
import { Errors } from "../../errors.js";
import { parseRate } from "../../net/rate.js";
import type { LimitsView } from "../../net/transfer-limits.js";
import { globals, printJson } from "../context.js";

/** `p2p limits`: shows the running daemon's transfer limits, or changes them at once (`--upload`, `--download`). */

interface LimitsFlags {
  upload?: string;
  download?: string;
}

export function limitsLine(limits: LimitsView): string {
  return `upload ${limits.upload}, download ${limits.download}`;
}

export function registerLimits(program: Command): void {
  program
    .command("limits")
    .description("show or change the running daemon's upload and download limits (k = 1024, M = 1024²)")
    .option("--upload <rate>", "new upload limit: 500k, 2M, 1.5M, 1048576, or 0 / unlimited")
    .option("--download <rate>", "new download limit, the same way")
    .option("--json", "print one JSON object on stdout")
    .action(async (flags: LimitsFlags, command: Command) => {
      const { dataDir, json } = globals(command);
      // Checked here first, so that a bad value is INVALID_RATE whether or not a daemon runs.
      const change = {
        ...(flags.upload === undefined ? {} : { uploadRate: parseRate(flags.upload) }),
        ...(flags.download === undefined ? {} : { downloadRate: parseRate(flags.download) }),
      };
      if (!(await daemonRunning(dataDir))) {
        throw Errors.daemonUnreachable(`no daemon runs for ${dataDir}`, "limits belong to a running daemon: start one with `p2p daemon --max-upload-rate RATE --max-download-rate RATE`");
      }
      const changing = Object.keys(change).length > 0;
      const limits = changing ? await controlJson<LimitsView>(dataDir, "PUT", "/v1/limits", change) : await controlJson<LimitsView>(dataDir, "GET", "/v1/limits");
      if (json) return printJson(limits);
      process.stdout.write(`upload:    ${limits.upload}\ndownload:  ${limits.download}\n`);
    });
}
