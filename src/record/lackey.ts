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
/** The largest access size: 7 decimal digits. */
const MAX_SIZE = 9_999_999;
const NEWLINE = Buffer.from('\n');
/** Hex digit values by byte, -1 for anything else. */
const HEXV = new Int8Array(257).fill(-1);
for (let c = 0; c < 10; c++) HEXV[48 + c] = c;
for (let c = 0; c < 6; c++) HEXV[97 + c] = HEXV[65 + c] = 10 + c;

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
      this.lines_(joined, 0, joined.length);
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(10);
    if (last >= start) {
      this.lines_(chunk, start, last + 1);
      start = last + 1;
    }
    if (start < chunk.length) {
      if (chunk.length - start > MAX_LINE) throw new LackeyError(this.lines + 1, 1, `a line longer than ${MAX_LINE} bytes: not a Lackey log`);
      this.tail = Buffer.from(chunk.subarray(start));
    }
  }

  /** The end of the log: a last line without `\n` is read when it is whole, else the log was truncated. */
  end(): LackeyEnd {
    const t = this.tail;
    this.tail = null;
    if (t === null) return { truncated: false, lines: this.lines };
    try {
      const b = Buffer.concat([t, NEWLINE]);
      this.lines_(b, 0, b.length);
      return { truncated: false, lines: this.lines };
    } catch (e) {
      if (!(e instanceof LackeyError)) throw e;
      this.lines++;
      return { truncated: true, lines: this.lines };
    }
  }

  /** Whole lines: buf[p, limit), where buf[limit - 1] is `\n`. Access records take the fast path: the parse finds the line's end. */
  private lines_(buf: Buffer, p: number, limit: number): void {
    const sink = this.sink;
    let line = this.lines;
    while (p < limit) {
      line++;
      const c0 = buf[p]!;
      let kind = -1;
      if (c0 === 73) {
        if (buf[p + 1] === 32 && buf[p + 2] === 32) kind = INSTR;
      } else if (c0 === 32 && buf[p + 2] === 32) {
        const c1 = buf[p + 1];
        kind = c1 === 76 ? LOAD : c1 === 83 ? STORE : c1 === 77 ? MODIFY : -1;
      }
      if (kind >= 0) {
        let i = p + 3;
        let addr = 0;
        let d = HEXV[buf[i]!]!;
        while (d >= 0) {
          addr = addr * 16 + d;
          d = HEXV[buf[++i]!]!;
        }
        if (buf[i] === 44 && i > p + 3 && i <= p + 19 && addr < 2 ** 53) {
          let j = i + 1;
          let size = 0;
          let c = buf[j]!;
          while (c >= 48 && c <= 57 && j < i + 8) {
            size = size * 10 + (c - 48);
            c = buf[++j]!;
          }
          if (j > i + 1 && (c === 10 || (c === 13 && buf[j + 1] === 10))) {
            this.lines = line;
            sink.access(kind, addr, size === 0 ? 1 : size, line);
            p = j + (c === 10 ? 1 : 2);
            continue;
          }
        }
      }
      // Anything else: the line as a whole.
      let e = p;
      while (buf[e] !== 10) e++;
      this.lines = line - 1;
      this.otherLine(buf, p, e, line);
      this.lines = line;
      p = e + 1;
    }
    this.lines = line;
  }

  /** A line that is not a well-formed access record: empty, Valgrind's, or an error. */
  private otherLine(buf: Buffer, start: number, end: number, line: number): void {
    if (end > start && buf[end - 1] === 13) end--; // \r\n
    if (end === start) return;
    const c0 = buf[start]!;
    if (c0 === 61 /* = */ || c0 === 45 /* - */ || c0 === 42 /* * */) {
      this.valgrindLine(buf, start, end, line);
      return;
    }
    if (!(c0 === 73 && buf[start + 1] === 32 && buf[start + 2] === 32) && !(c0 === 32 && buf[start + 2] === 32 && [76, 83, 77].includes(buf[start + 1]!))) {
      throw this.bad(buf, start, end, line);
    }
    // An access record that the fast path refused: say where.
    let i = start + 3;
    const a0 = i;
    while (i < end && HEXV[buf[i]!]! >= 0) i++;
    if (i === a0) throw new LackeyError(line, i - start + 1, 'expected a hexadecimal address');
    if (i - a0 > 16) throw new LackeyError(line, a0 - start + 1, 'the address is wider than 64 bits');
    if (i - a0 > 13 || parseInt(text(buf, a0, i), 16) >= 2 ** 53) {
      throw new LackeyError(line, a0 - start + 1, `address 0x${text(buf, a0, i)} is not a user address of any mode (it is beyond 2^53)`);
    }
    if (i >= end || buf[i] !== 44) throw new LackeyError(line, i - start + 1, 'expected `,` and the access size after the address');
    i++;
    const s0 = i;
    while (i < end && buf[i]! >= 48 && buf[i]! <= 57) i++;
    if (i === s0) throw new LackeyError(line, i - start + 1, 'expected the access size (decimal) after `,`');
    if (i - s0 > 7) throw new LackeyError(line, s0 - start + 1, `an access of more than ${MAX_SIZE} bytes`);
    throw new LackeyError(line, i - start + 1, `unexpected \`${text(buf, i, Math.min(end, i + 16))}\` after the access size`);
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
