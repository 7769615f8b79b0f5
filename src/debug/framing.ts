// The adapter's reader of DAP messages on stdio (`Content-Length: N`, a blank
// line, N bytes of JSON), in place of @vscode/debugadapter's, which went deaf
// for the rest of the session on a bad header and ended the adapter on a body
// that is not a message (issue 17, items 9 and 10).
//
// - Header names are case-insensitive; lines may end in CRLF or LF.
// - Bytes before a `Content-Length` header, a header without a valid length
//   and a length over MAX_MESSAGE_BYTES are reported and skipped: reading goes
//   on at the next `Content-Length` header.
// - A body that is not JSON or not an object is reported and skipped.
// - Chunks are kept in a list and joined once per message: reading a body is
//   linear in its size.

/** The largest message body read (64 MiB): a longer one is reported and skipped. */
export const MAX_MESSAGE_BYTES = 64 << 20;
/** The most bytes of headers before the blank line that ends them. */
const MAX_HEADER_BYTES = 8192;
const HEADER = /content-length[ \t]*:/i;

export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;
  /** The length of the body being read, or -1 while reading headers. */
  private bodyLength = -1;

  constructor(
    private readonly onMessage: (msg: Record<string, unknown>) => void,
    private readonly onError: (text: string) => void,
    private readonly maxBody = MAX_MESSAGE_BYTES,
  ) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.bodyLength >= 0 ? this.readBody() : this.readHeader());
  }

  /** Everything pending as one buffer (joined once, kept as one chunk). */
  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private drop(n: number): void {
    const b = this.joined().subarray(n);
    this.chunks = b.length ? [b] : [];
    this.size = b.length;
  }

  /** Reads one header block; false when more bytes are needed. */
  private readHeader(): boolean {
    if (this.size === 0) return false;
    // Only the start of what is pending is looked at: headers are short.
    const head = this.peek(MAX_HEADER_BYTES + 64).toString('latin1');
    const at = head.search(HEADER);
    if (at < 0) {
      // Keep a tail that may be the start of a header cut by the chunk boundary.
      const skipped = head.length - Math.min(head.length, 32);
      if (skipped === 0) return false;
      if (head.slice(0, skipped).trim()) this.onError(`skipped ${skipped} bytes that are not a message (no Content-Length header)`);
      this.drop(skipped);
      return this.size > head.length - skipped;
    }
    if (at > 0) {
      if (head.slice(0, at).trim()) this.onError(`skipped ${at} bytes before a Content-Length header (not a message)`);
      this.drop(at);
      return true;
    }
    const end = /\r?\n\r?\n/.exec(head);
    if (!end) {
      if (this.size > MAX_HEADER_BYTES) {
        this.onError(`a header block longer than ${MAX_HEADER_BYTES} bytes without the blank line that ends it: skipped`);
        this.drop(HEADER.exec(head)![0].length);
        return true;
      }
      return false;
    }
    const lines = head.slice(0, end.index).split(/\r?\n/);
    this.drop(end.index + end[0].length);
    const value = lines[0]!.replace(HEADER, '').trim();
    if (!/^\d+$/.test(value)) {
      this.onError(`a message with a bad header \`${printable(lines[0]!)}\` (Content-Length must be a number of bytes): skipped`);
      return true;
    }
    const n = Number(value);
    if (n > this.maxBody) {
      this.onError(`a message of ${value} bytes, over the limit of ${this.maxBody} bytes: skipped`);
      return true;
    }
    this.bodyLength = n;
    return true;
  }

  private readBody(): boolean {
    if (this.size < this.bodyLength) return false;
    const all = this.joined();
    const body = all.subarray(0, this.bodyLength);
    this.drop(this.bodyLength);
    this.bodyLength = -1;
    this.deliver(body.toString('utf8'));
    return true;
  }

  private deliver(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      this.onError(`a message that is not JSON (${(e as Error).message}): skipped`);
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.onError(`a message that is not a JSON object (${msg === null ? 'null' : Array.isArray(msg) ? 'an array' : typeof msg}): skipped`);
      return;
    }
    this.onMessage(msg as Record<string, unknown>);
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    return first.length >= n || this.chunks.length === 1 ? first.subarray(0, n) : this.joined().subarray(0, n);
  }
}

function printable(s: string): string {
  const t = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  return t.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
