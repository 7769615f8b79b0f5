// Reads Valgrind lackey's `--trace-mem=yes` log from byte chunks, line by
// line, without holding more than the last incomplete line: access records
// (`I  0401ab70,3`, ` L 1fff000778,8`, ` S ...`, ` M ...`) and Valgrind's own
// `==PID==` lines (also `--PID--` and `**PID**`). Bytes are parsed as they
// are; only Valgrind's lines become strings.

/** Access kinds as Lackey writes them. */
export const INSTR = 0;
export const LOAD = 1;
export const STORE = 2;
export const MODIFY = 3;

export interface LackeySink {
  /** An access record. `line` is its 1-based line number. */
  access(kind: number, addr: number, size: number, line: number): void;
  /** A line of Valgrind's own, `==PID== text`. */
  valgrind(pid: number, text: string, line: number): void;
}

export class LackeyError extends Error {
  constructor(
    readonly line: number,
    readonly col: number,
    message: string,
  ) {
    super(message);
  }
}

/** The longest line the reader keeps while waiting for its end. */
const MAX_LINE = 64 * 1024;
const MAX_SIZE = 1 << 20;

export interface LackeyEnd {
  /** The log ended in the middle of a line that is not a whole record. */
  truncated: boolean;
  /** Lines read (the partial one included). */
  lines: number;
}

export class LackeyReader {
  /** Lines completed so far. */
  lines = 0;
  private tail: Buffer | null = null;

  constructor(private readonly sink: LackeySink) {}

  /** Reads every complete line of `chunk` (after what was left of the last). Throws LackeyError. */
  push(chunk: Buffer): void {
    let start = 0;
    if (this.tail !== null) {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        this.tail = Buffer.concat([this.tail, chunk]);
        if (this.tail.length > MAX_LINE) throw new LackeyError(this.lines + 1, 1, `a line longer than ${MAX_LINE} bytes: not a Lackey log`);
        return;
      }
      const joined = Buffer.concat([this.tail, chunk.subarray(0, nl + 1)]);
      this.tail = null;
      this.lineAt(joined, 0, joined.length - 1);
      start = nl + 1;
    }
    const n = chunk.length;
    while (start < n) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      this.lineAt(chunk, start, nl);
      start = nl + 1;
    }
    if (start < n) {
      if (n - start > MAX_LINE) throw new LackeyError(this.lines + 1, 1, `a line longer than ${MAX_LINE} bytes: not a Lackey log`);
      this.tail = Buffer.from(chunk.subarray(start));
    }
  }

  /** The end of the log: a last line without `\n` is read when it is whole, else the log was truncated. */
  end(): LackeyEnd {
    const t = this.tail;
    this.tail = null;
    if (t === null) return { truncated: false, lines: this.lines };
    try {
      this.lineAt(t, 0, t.length);
      return { truncated: false, lines: this.lines };
    } catch (e) {
      if (!(e instanceof LackeyError)) throw e;
      this.lines++;
      return { truncated: true, lines: this.lines };
    }
  }

  /** One line: buf[start, end), end at the `\n` or the end of the text. */
  private lineAt(buf: Buffer, start: number, end: number): void {
    const line = this.lines + 1;
    if (end > start && buf[end - 1] === 13) end--; // \r\n
    if (end === start) {
      this.lines = line;
      return;
    }
    const c0 = buf[start]!;
    let kind: number;
    if (c0 === 73 /* I */) {
      if (buf[start + 1] !== 32 || buf[start + 2] !== 32) throw this.bad(buf, start, end, line);
      kind = INSTR;
    } else if (c0 === 32) {
      const c1 = buf[start + 1];
      kind = c1 === 76 ? LOAD : c1 === 83 ? STORE : c1 === 77 ? MODIFY : -1;
      if (kind < 0 || buf[start + 2] !== 32) throw this.bad(buf, start, end, line);
    } else if (c0 === 61 /* = */ || c0 === 45 /* - */ || c0 === 42 /* * */) {
      this.valgrindLine(buf, start, end, line);
      this.lines = line;
      return;
    } else {
      throw this.bad(buf, start, end, line);
    }
    // ADDR (hex) `,` SIZE (decimal)
    let i = start + 3;
    let addr = 0;
    const a0 = i;
    for (; i < end; i++) {
      const c = buf[i]!;
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else break;
      addr = addr * 16 + d;
    }
    if (i === a0) throw new LackeyError(line, i - start + 1, 'expected a hexadecimal address');
    if (i - a0 > 16) throw new LackeyError(line, a0 - start + 1, 'the address is wider than 64 bits');
    if (addr >= 2 ** 53) throw new LackeyError(line, a0 - start + 1, `address 0x${text(buf, a0, i)} is not a user address of any mode (it is beyond 2^53)`);
    if (i >= end || buf[i] !== 44) throw new LackeyError(line, i - start + 1, 'expected `,` and the access size after the address');
    i++;
    const s0 = i;
    let size = 0;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (c < 48 || c > 57) break;
      size = size * 10 + (c - 48);
      if (size > MAX_SIZE) throw new LackeyError(line, s0 - start + 1, `an access of more than ${MAX_SIZE} bytes`);
    }
    if (i === s0) throw new LackeyError(line, i - start + 1, 'expected the access size (decimal) after `,`');
    if (i !== end) throw new LackeyError(line, i - start + 1, `unexpected \`${text(buf, i, Math.min(end, i + 16))}\` after the access size`);
    this.lines = line;
    this.sink.access(kind, addr, size === 0 ? 1 : size, line);
  }

  private valgrindLine(buf: Buffer, start: number, end: number, line: number): void {
    const c0 = buf[start]!;
    if (buf[start + 1] !== c0) throw this.bad(buf, start, end, line);
    let i = start + 2;
    let pid = 0;
    const p0 = i;
    for (; i < end && buf[i]! >= 48 && buf[i]! <= 57; i++) pid = pid * 10 + (buf[i]! - 48);
    if (i === p0 || i > p0 + 10 || buf[i] !== c0 || buf[i + 1] !== c0) {
      throw new LackeyError(line, 1, `a Valgrind line starts \`${String.fromCharCode(c0, c0)}PID${String.fromCharCode(c0, c0)}\``);
    }
    i += 2;
    if (i < end && buf[i] === 32) i++;
    if (c0 === 61) this.sink.valgrind(pid, text(buf, i, end), line);
  }

  private bad(buf: Buffer, start: number, end: number, line: number): LackeyError {
    const shown = text(buf, start, Math.min(end, start + 24));
    return new LackeyError(
      line,
      1,
      `not a Lackey line: \`${shown}${end - start > 24 ? '…' : ''}\` (expected \`I  ADDR,SIZE\`, \` L ADDR,SIZE\`, \` S ADDR,SIZE\`, \` M ADDR,SIZE\` or a Valgrind \`==PID==\` line)`,
    );
  }
}

function text(buf: Buffer, start: number, end: number): string {
  return buf.toString('utf8', start, end).replace(/[\x00-\x1f\x7f]/g, '?');
}
