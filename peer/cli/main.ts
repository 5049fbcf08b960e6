import { Command, CommanderError } from "commander";
import { defaultDataDir, defaultTracker } from "../config.js";
import { EXIT_CODES } from "../errors.js";
import { registerDaemon } from "./commands/daemon.js";
import { registerDownload } from "./commands/download.js";
import { registerManage } from "./commands/manage.js";
import { registerShare } from "./commands/share.js";
import { registerTracker } from "./commands/tracker.js";
import { registerUp } from "./commands/up.js";
import { reportFailure } from "./fail.js";

const program = new Command("p2p")
  .description("peer-to-peer file sharing: share a file, get its SHA-1; download it by that SHA-1 from every peer that has it")
  .option("--tracker <url>", "tracker URL (env P2P_TRACKER)", defaultTracker())
  .option("--data-dir <dir>", "state folder; also how the CLI finds its daemon (env P2P_DATA_DIR)", defaultDataDir())
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text.startsWith("error:") ? `p2p: ${text}` : text) });

registerShare(program);
registerDownload(program);
registerManage(program);
registerDaemon(program);
registerTracker(program);
registerUp(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version are successes; every other commander error is a usage mistake, already printed.
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_CODES.usage;
  } else {
    process.exitCode = reportFailure(error, process.argv.includes("--json"));
  }
}
