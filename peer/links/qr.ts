import qrcode from "qrcode-generator";
import { Errors } from "../errors.js";

/** Modules of light margin around the code; scanners need some (the standard asks for 4; 2 reads well on screens). */
const QUIET = 2;

/** The most a QR code holds at error correction L, version 40, in bytes: a longer link has none. */
export const QR_MAX_BYTES = 2953;

/**
 * The modules of a QR code for `text` (ASCII: a link is URL-encoded), true for dark: error correction M,
 * or L when the text is too long for M. Null when it is too long for any QR code.
 */
export function qrModules(text: string): boolean[][] | null {
  if (text.length > QR_MAX_BYTES) return null;
  const code = qrcodeFor(text);
  if (code === null) return null;
  const count = code.getModuleCount();
  const size = count + 2 * QUIET;
  const rows: boolean[][] = [];
  for (let row = 0; row < size; row += 1) {
    const line: boolean[] = [];
    for (let col = 0; col < size; col += 1) {
      const r = row - QUIET;
      const c = col - QUIET;
      line.push(r >= 0 && c >= 0 && r < count && c < count && code.isDark(r, c));
    }
    rows.push(line);
  }
  return rows;
}

function qrcodeFor(text: string): ReturnType<typeof qrcode> | null {
  for (const level of ["M", "L"] as const) {
    try {
      const code = qrcode(0, level);
      code.addData(text, "Byte");
      code.make();
      return code;
    } catch {
      // Too long at this level (the library throws a string): try the next.
    }
  }
  return null;
}

/**
 * A QR code as terminal text: two rows of modules per line with half blocks, drawn black on white by ANSI
 * colours, so that it scans the same on dark and light terminal themes.
 */
export function qrTerminal(text: string): string {
  const modules = qrModules(text);
  if (modules === null) throw Errors.linkTooLongForQr(`the link is ${text.length} characters: too long for a QR code (at most ${QR_MAX_BYTES})`, "give the link itself; a link with fewer trackers is shorter");
  const lines: string[] = [];
  for (let row = 0; row < modules.length; row += 2) {
    const top = modules[row]!;
    const bottom = modules[row + 1];
    let line = "";
    for (let col = 0; col < top.length; col += 1) {
      const up = top[col]!;
      const down = bottom?.[col] ?? false;
      line += up && down ? "█" : up ? "▀" : down ? "▄" : " ";
    }
    lines.push(`\x1b[30;47m${line}\x1b[0m`);
  }
  return `${lines.join("\n")}\n`;
}
