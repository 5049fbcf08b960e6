import type { Command } from "commander";
import { spawn } from "node:child_process";
import { controlJson, daemonRunning } from "../../daemon/control-client.js";
import { Errors } from "../../errors.js";
import { readUiSecret } from "../../ui/ui-secret.js";
import { globals, printJson } from "../context.js";

/**
 * `p2p ui`: the dashboard's login URL (it carries the secret, which only this user can read), and a browser
 * opened on it where this machine has a display.
 */

function hasDisplay(): boolean {
  return process.platform === "darwin" || process.platform === "win32" || Boolean(process.env["DISPLAY"] || process.env["WAYLAND_DISPLAY"]);
}

/** Best effort: a machine without a browser still has the URL, printed first. */
function openBrowser(url: string): void {
  const [command, args] = process.platform === "darwin" ? ["open", [url]] : process.platform === "win32" ? ["cmd", ["/c", "start", "", url]] : ["xdg-open", [url]];
  try {
    const child = spawn(command, args, { detached: true, stdio: "ignore" });
    child.on("error", () => process.stderr.write(`p2p: could not open a browser (${command}); open the URL above yourself\n`));
    child.unref();
  } catch {
    process.stderr.write("p2p: could not open a browser; open the URL above yourself\n");
  }
}

export function registerUi(program: Command): void {
  program
    .command("ui")
    .description("print the web dashboard's URL (with this user's secret) and open it in a browser")
    .option("--no-open", "only print the URL")
    .option("--json", "print one JSON object on stdout")
    .action(async (flags: { open: boolean }, command: Command) => {
      const { dataDir, json } = globals(command);
      if (!(await daemonRunning(dataDir))) throw Errors.daemonUnreachable(`no daemon runs for ${dataDir}`, "start one with `p2p daemon` (or `p2p up`); its dashboard comes with it");
      const status = await controlJson<{ ui?: { host: string; port: number } | null }>(dataDir, "GET", "/v1/status");
      if (status.ui === undefined || status.ui === null) {
        throw Errors.usage("this daemon runs without a dashboard", "it was started with --no-ui (or P2P_UI=off), or its port was taken (its log says); restart it with --ui-port PORT");
      }
      const secret = await readUiSecret(dataDir);
      if (secret === null) throw Errors.unreadable(`cannot read the dashboard's secret in ${dataDir}`, "run `p2p ui` as the user who runs the daemon");
      const url = `http://${status.ui.host}:${status.ui.port}/login?token=${secret}`;
      if (json) printJson({ url, host: status.ui.host, port: status.ui.port });
      else process.stdout.write(`${url}\n`);
      if (flags.open && hasDisplay()) openBrowser(url);
    });
}
