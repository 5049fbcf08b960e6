import qrcode from "qrcode-generator";

/** Modules of light margin around the code; scanners need some (the standard asks for 4; 2 reads well on screens). */
const QUIET = 2;

/** The modules of a QR code for `text` (ASCII: a link is URL-encoded), true for dark; error correction M. */
export function qrModules(text: string): boolean[][] {
  const code = qrcode(0, "M");
  code.addData(text, "Byte");
  code.make();
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

/**
 * A QR code as terminal text: two rows of modules per line with half blocks, drawn black on white by ANSI
 * colours, so that it scans the same on dark and light terminal themes.
 */
export function qrTerminal(text: string): string {
  const modules = qrModules(text);
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
