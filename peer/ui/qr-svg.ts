import { qrModules } from "../links/qr.js";

/**
 * A QR code of `text` as an SVG image: one path of unit squares, black on white, scaled by the page; null
 * for a link too long for any QR code.
 */
export function qrSvg(text: string): string | null {
  const modules = qrModules(text);
  if (modules === null) return null;
  const size = modules.length;
  let path = "";
  modules.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) path += `M${x} ${y}h1v1h-1z`;
    }),
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges"><rect width="${size}" height="${size}" fill="#fff"/><path d="${path}" fill="#000"/></svg>`;
}
