import { normalizeSha1 } from "../../common/ids.js";
import { Errors } from "../errors.js";
import { looksLikeLink, parseShareLink, type ShareLink } from "./share-link.js";

/**
 * What a user typed to name a file: a bare SHA-1 or a share link. One parser for `p2p download` and the
 * control API's `file` (the dashboard), so that both say the same thing about a wrong one.
 */
export function fileAsked(raw: string): { sha1: string; link?: ShareLink } {
  if (looksLikeLink(raw)) {
    const link = parseShareLink(raw);
    return { sha1: link.sha1, link };
  }
  const sha1 = normalizeSha1(raw.trim());
  if (sha1 === null) throw Errors.invalidHash(`${JSON.stringify(raw)} is not a SHA-1 or a share link`, "a file id is 40 hex characters, as `p2p share` prints it; a share link starts with magnet:?");
  return { sha1 };
}
