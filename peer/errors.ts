/**
 * The peer's one error type, with stable codes. The CLI turns it into a one-line message and an exit code
 * (cli/fail.ts); the control API and the public server turn it into an HTTP reply. Anything that is not a
 * P2PError is a bug of ours and is reported as such.
 */

export type ErrorKind = "usage" | "not_found" | "network" | "integrity" | "io" | "conflict" | "interrupted" | "internal";

/** Exit codes by kind, as the README documents them. */
export const EXIT_CODES: Record<ErrorKind, number> = {
  internal: 1,
  usage: 2,
  not_found: 3,
  network: 4,
  integrity: 5,
  io: 6,
  conflict: 7,
  /** 128 + SIGINT: what a shell reports for a command stopped by Ctrl-C. */
  interrupted: 130,
};

const HTTP_STATUS: Record<ErrorKind, number> = {
  internal: 500,
  usage: 400,
  not_found: 404,
  network: 502,
  integrity: 502,
  io: 507,
  conflict: 409,
  /** The client went away (nginx's convention): never sent, since nobody is left to read it. */
  interrupted: 499,
};

export class P2PError extends Error {
  constructor(
    readonly code: string,
    readonly kind: ErrorKind,
    message: string,
    /** What the user can do about it, shown after the message. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = "P2PError";
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.kind];
  }

  toJSON(): { code: string; kind: ErrorKind; message: string; hint?: string } {
    return { code: this.code, kind: this.kind, message: this.message, ...(this.hint ? { hint: this.hint } : {}) };
  }

  static fromJSON(value: { code: string; kind: ErrorKind; message: string; hint?: string }): P2PError {
    return new P2PError(value.code, value.kind, value.message, value.hint);
  }
}

const err =
  (code: string, kind: ErrorKind) =>
  (message: string, hint?: string): P2PError =>
    new P2PError(code, kind, message, hint);

/** Named factories, so that a code is spelled in one place. */
export const Errors = {
  usage: err("BAD_ARGUMENT", "usage"),
  invalidHash: err("INVALID_HASH", "usage"),
  /** A transfer limit that is not a rate (`--max-upload-rate`, `p2p limits`, `PUT /v1/limits`). */
  invalidRate: err("INVALID_RATE", "usage"),
  /** A `--peer` that is not IP:port (`[v6]:port`). */
  invalidPeer: err("INVALID_PEER", "usage"),
  /** A share link (magnet:?xt=urn:sha1:...) that is malformed or names what it may not. */
  invalidLink: err("INVALID_LINK", "usage"),
  /** `--qr` for a link longer than any QR code holds. */
  linkTooLongForQr: err("LINK_TOO_LONG_FOR_QR", "usage"),
  fileNotFound: err("FILE_NOT_FOUND", "not_found"),
  notAFile: err("NOT_A_FILE", "usage"),
  unreadable: err("FILE_UNREADABLE", "io"),
  destinationExists: err("DESTINATION_EXISTS", "conflict"),
  unknownHash: err("UNKNOWN_HASH", "not_found"),
  notShared: err("NOT_SHARED", "not_found"),
  /** Pause, resume or cancel of a file this daemon neither downloads nor has a paused download of. */
  noSuchDownload: err("NO_SUCH_DOWNLOAD", "not_found"),
  noPeers: err("NO_PEERS", "network"),
  trackerUnreachable: err("TRACKER_UNREACHABLE", "network"),
  trackerRefused: err("TRACKER_REFUSED", "network"),
  /** The local tracker (wrangler dev) would not start or stopped by itself. */
  trackerFailed: err("TRACKER_FAILED", "io"),
  peerUnreachable: err("PEER_UNREACHABLE", "network"),
  manifestMismatch: err("MANIFEST_MISMATCH", "integrity"),
  fileHashMismatch: err("FILE_HASH_MISMATCH", "integrity"),
  allPeersLied: err("ALL_PEERS_LIED", "integrity"),
  diskFull: err("DISK_FULL", "io"),
  /** The download's partial file was swapped (for a link or another file) under it: it is not written. */
  partialFileReplaced: err("PARTIAL_FILE_REPLACED", "io"),
  io: err("IO_ERROR", "io"),
  daemonUnreachable: err("DAEMON_UNREACHABLE", "network"),
  daemonRunning: err("DAEMON_RUNNING", "conflict"),
  fileChanged: err("FILE_CHANGED", "conflict"),
  cancelled: err("CANCELLED", "internal"),
  /** The user stopped a command (Ctrl-C) before it finished; what it did so far is kept. */
  interrupted: err("INTERRUPTED", "interrupted"),
};

/** Maps a Node file-system error to a P2PError with what happened to which path. */
export function fromFsError(error: unknown, path: string, doing: string): P2PError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return Errors.fileNotFound(`${path}: no such file or directory`);
    case "EISDIR":
      return Errors.notAFile(`${path} is a directory, not a file`, "share a file; to share a folder, share each file");
    case "EACCES":
    case "EPERM":
      return Errors.unreadable(`${path}: permission denied while ${doing}`);
    case "ENOSPC":
    case "EDQUOT":
      return Errors.diskFull(`no space left on the device of ${path} while ${doing}`, "free some space and run the same command again; verified chunks are kept");
    default:
      return Errors.io(`${path}: ${error instanceof Error ? error.message : String(error)} while ${doing}`);
  }
}
