import { Command, CommanderError } from "commander";
import { createRequire } from "node:module";
import { join } from "node:path";
import { defaultDataDir } from "../config.js";
import { DEFAULT_TRACKER_URL } from "../../common/constants.js";
import { EXIT_CODES } from "../errors.js";
import { registerDaemon } from "./commands/daemon.js";
import { registerDownload } from "./commands/download.js";
import { registerDownloads } from "./commands/downloads.js";
import { registerLimits } from "./commands/limits.js";
import { registerLink } from "./commands/link.js";
import { registerManage } from "./commands/manage.js";
import { registerShare } from "./commands/share.js";
import { registerTracker } from "./commands/tracker.js";
import { registerUp } from "./commands/up.js";
import { registerUi } from "./commands/ui.js";
import { reportFailure } from "./fail.js";
import { collect } from "./options.js";
import { projectRoot } from "./project-root.js";

/** The package's version, from the package.json beside wrangler.toml. */
function packageVersion(): string {
  const { version } = createRequire(import.meta.url)(join(projectRoot(), "package.json")) as { version?: string };
  return version ?? "unknown";
}

/** The `p2p` program: every command, and the one place where a failure becomes an exit code. */
export function buildProgram(stop?: AbortSignal): Command {
  const program = new Command("p2p")
    .description("peer-to-peer file sharing: share a file, get its SHA-1; download it by that SHA-1 from every peer that has it")
    .version(packageVersion(), "-V, --version", "print the version")
    .option("--tracker <url>", `tracker URL; repeat for several, all used at once (env P2P_TRACKER, comma-separated; default ${DEFAULT_TRACKER_URL})`, collect)
    .option("--data-dir <dir>", "state folder; also how the CLI finds its daemon (env P2P_DATA_DIR)", defaultDataDir())
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text.startsWith("error:") ? `p2p: ${text}` : text) });
  registerShare(program, stop);
  registerDownload(program);
  registerDownloads(program);
  registerLink(program);
  registerManage(program);
  registerLimits(program);
  registerDaemon(program, stop);
  registerTracker(program, stop);
  registerUp(program, stop);
  registerUi(program);
  return program;
}

/**
 * Runs the CLI on `argv` (as process.argv: node, script, args...) and returns its exit code. A serving
 * command runs until SIGINT, SIGTERM or `stop` aborts.
 */
export async function runCli(argv: string[], stop?: AbortSignal): Promise<number> {
  try {
    await buildProgram(stop).parseAsync(argv);
    return 0;
  } catch (error) {
    // Help and version are successes; every other commander error is a usage mistake, already printed.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_CODES.usage;
    return reportFailure(error, argv.includes("--json"));
  }
}
