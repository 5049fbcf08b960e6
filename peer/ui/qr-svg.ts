import { qrModules } from "../links/qr.js";

/** A QR code of `text` as an SVG image: one path of unit squares, black on white, scaled by the page. */
export function qrSvg(text: string): string {
  const modules = qrModules(text);
  const size = modules.length;
  let path = "";
  modules.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) path += `M${x} ${y}h1v1h-1z`;
    }),
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges"><rect width="${size}" height="${size}" fill="#fff"/><path d="${path}" fill="#000"/></svg>`;
}
