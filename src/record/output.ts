// The text a conversion writes, as bytes: access events are formatted
// straight into a buffer (no string a line), everything else is written as
// text; full buffers go to the sink.

import type { AccessKind } from './kernel';

const SIZE = 256 * 1024;
const READ = [...Buffer.from('read 0x', 'latin1')];
const WRITE = [...Buffer.from('write 0x', 'latin1')];
const EXEC = [...Buffer.from('exec 0x', 'latin1')];
const SIZE1 = [...Buffer.from(' size 1', 'latin1')];
const HEX = [...Buffer.from('0123456789abcdef', 'latin1')];

export class TraceOutput {
  private buf = Buffer.allocUnsafe(SIZE);
  private pos = 0;
  /** Bytes written so far. */
  written = 0;

  /** `writeTail`: a write starting past this page offset says `size 1` (its default size would cross the page). */
  constructor(
    private readonly sink: (chunk: Buffer) => void,
    private readonly writeTail: number,
  ) {}

  text(s: string): void {
    if (this.pos + s.length * 3 > SIZE - 64) {
      this.flush();
      if (s.length * 3 > SIZE - 64) {
        const b = Buffer.from(s, 'utf8');
        this.written += b.length;
        this.sink(b);
        return;
      }
    }
    const n = this.buf.write(s, this.pos, 'utf8');
    this.pos += n;
    this.written += n;
  }

  /** `KIND 0xVA[ size 1]\n` */
  access(kind: AccessKind, va: number): void {
    if (this.pos > SIZE - 64) this.flush();
    const b = this.buf;
    let p = this.pos;
    const pre = kind === 'read' ? READ : kind === 'write' ? WRITE : EXEC;
    for (let i = 0; i < pre.length; i++) b[p++] = pre[i]!;
    const lo = va >>> 0;
    const hi = (va - lo) / 4294967296;
    if (hi > 0) {
      p = hexDigits(b, p, hi, false);
      p = hexDigits(b, p, lo, true);
    } else {
      p = hexDigits(b, p, lo, false);
    }
    if (kind === 'write' && (lo & 0xfff) > this.writeTail) for (let i = 0; i < SIZE1.length; i++) b[p++] = SIZE1[i]!;
    b[p++] = 10;
    this.written += p - this.pos;
    this.pos = p;
  }

  flush(): void {
    if (this.pos === 0) return;
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(SIZE);
    this.pos = 0;
    this.sink(out);
  }
}

/** Writes `v` (< 2^32) in hex: all 8 digits when `pad`, else without leading zeros. */
function hexDigits(b: Buffer, p: number, v: number, pad: boolean): number {
  let shift = 28;
  if (!pad) while (shift > 0 && (v >>> shift) === 0) shift -= 4;
  for (; shift >= 0; shift -= 4) b[p++] = HEX[(v >>> shift) & 15]!;
  return p;
}
