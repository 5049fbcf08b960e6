/**
 * A file name from an untrusted manifest, made safe to create inside a folder we chose: the last path
 * component only, no control characters, not "." or "..", at most 200 bytes. Falls back to the file id.
 */
export function safeFileName(name: string, fallback: string): string {
  const last = name.split(/[/\\]/).pop() ?? "";
  let clean = last.replace(/[\u0000-\u001f\u007f]/g, "").trim();
  if (clean === "" || clean === "." || clean === "..") return fallback;
  while (Buffer.byteLength(clean, "utf8") > 200) clean = clean.slice(0, -1);
  return clean;
}
