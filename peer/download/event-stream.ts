/**
 * Reads a `text/event-stream` body as it arrives (what `/have?stream=1` answers): the `data:` lines of
 * each event, joined, handed on when the blank line that ends the event comes. Comments and other fields
 * are skipped. Pure: the caller feeds it the body's parts.
 */
export class EventStreamReader {
  private pending = "";
  private data: string[] = [];
  private dataBytes = 0;
  private readonly decoder = new TextDecoder();

  constructor(
    /** The longest event (and line) accepted: past it the stream is not one a peer of ours would send. */
    private readonly maxEventBytes: number,
  ) {}

  /** Takes the next part of the body; returns the events it completed, in order. Throws past the limit. */
  push(part: Uint8Array): string[] {
    this.pending += this.decoder.decode(part, { stream: true });
    const events: string[] = [];
    for (let end = this.pending.indexOf("\n"); end >= 0; end = this.pending.indexOf("\n")) {
      const line = this.pending.slice(0, end).replace(/\r$/, "");
      this.pending = this.pending.slice(end + 1);
      if (line === "") {
        if (this.data.length > 0) events.push(this.data.join("\n"));
        this.data = [];
        this.dataBytes = 0;
      } else if (line.startsWith("data:")) {
        const value = line.slice(line.startsWith("data: ") ? 6 : 5);
        this.dataBytes += value.length + 1;
        if (this.dataBytes > this.maxEventBytes) throw new RangeError(`an event longer than ${this.maxEventBytes} bytes`);
        this.data.push(value);
      }
    }
    if (this.pending.length > this.maxEventBytes) throw new RangeError(`a line longer than ${this.maxEventBytes} bytes`);
    return events;
  }
}
