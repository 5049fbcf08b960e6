import { randomBytes } from "node:crypto";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * The dashboard's secret: 32 random bytes in <data-dir>/ui-secret (mode 0600, in the 0700 data dir), made at
 * the daemon's first start. Only this user can read it: `p2p ui` puts it in the login URL it prints, and the
 * page keeps it in an httpOnly cookie. There is no default password.
 */

export function uiSecretPath(dataDir: string): string {
  return join(dataDir, "ui-secret");
}

const SECRET = /^[A-Za-z0-9_-]{43}$/;

export async function readUiSecret(dataDir: string): Promise<string | null> {
  const text = await readFile(uiSecretPath(dataDir), "utf8").catch(() => null);
  const secret = text?.trim() ?? null;
  return secret !== null && SECRET.test(secret) ? secret : null;
}

export async function loadUiSecret(dataDir: string): Promise<string> {
  const existing = await readUiSecret(dataDir);
  if (existing !== null) {
    // Made readable by others since (a copy, a umask): made private again rather than trusted as it is.
    const { mode } = await stat(uiSecretPath(dataDir));
    if ((mode & 0o077) !== 0) await chmod(uiSecretPath(dataDir), 0o600);
    return existing;
  }
  const secret = randomBytes(32).toString("base64url");
  await writeFile(uiSecretPath(dataDir), `${secret}\n`, { mode: 0o600 });
  await chmod(uiSecretPath(dataDir), 0o600);
  return secret;
}
