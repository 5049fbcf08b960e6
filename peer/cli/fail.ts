import { EXIT_CODES, P2PError } from "../errors.js";

/**
 * The one place where an error becomes what the user sees: a line on stderr (or a JSON object on stdout
 * with --json) and an exit code. A P2PError is the user's situation; anything else is our bug.
 */
export function reportFailure(error: unknown, json: boolean): number {
  if (error instanceof P2PError) {
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: error.toJSON() })}\n`);
    process.stderr.write(`p2p: ${error.message}\n`);
    if (error.hint !== undefined) process.stderr.write(`p2p: ${error.hint}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: { code: "INTERNAL", kind: "internal", message: String(error) } })}\n`);
  process.stderr.write(`p2p: internal error (please report it): ${message}\n`);
  return EXIT_CODES.internal;
}
