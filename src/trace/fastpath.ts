// The fast path of the trace parser: the event lines that make up nearly all
// of a long trace (`read VA`, `exec VA`, `write VA [= VALUE]`, `pte VA =
// VALUE [FLAG...]`) read straight from the characters, without tokens, in the
// same pass that finds the line's end. Anything else, and anything that would
// need a diagnostic, goes to the general path (parser.ts, parse-events.ts);
// test/trace/fastpath.test.ts checks that both give the same rows.

import { EF_HAS_VALUE, Op, type OpCode } from './ast';
import { HEXV, isNumCont, isWordCont, isWs } from './lexer';
import { EventParser } from './parse-events';
import { FLAG_1, FLAG_BY_LEN, FLAG_LOWER, F_NX, KIB4, MAX_LINE_LENGTH, PTE_FLAGS, TWO32, charAt, lower, matchWord } from './words';

export abstract class FastParser extends EventParser {
  /** The row that fastLine has read (fLo/fHi are fastNum's value on the way). */
  protected fOp: OpCode = Op.Read;
  protected fVa = 0;
  protected fLo = 0;
  protected fHi = 0;
  protected fHasValue = false;

  // The fast path ------------------------------------------------------------

  /**
   * The event lines that make up nearly all of a long trace, read straight
   * from the characters, without tokens, in the same pass that finds the
   * line's end:
   *
   *   read VA | exec VA | write VA | write VA = VALUE | pte VA = VALUE [FLAG…]
   *
   * keywords and flags in any case, plain numbers (hex of 1 to 16 digits or
   * decimal of 1 to 15, without `_` or a suffix), whitespace between them, an
   * optional comment at the end. The line starts at s; the answer is the
   * offset of its `\n` (or the text's length), with the row in fOp, fVa, fLo,
   * fHi and fHasValue for pushFast. On anything else, and on anything that
   * would need a diagnostic (an error or a warning), the answer is -1, no
   * state has changed, and the general path parses the line: the result is
   * the same either way (test/trace/fastpath.test.ts compares the two).
   */
  protected fastLine(s: number): number {
    const text = this.text;
    const len = text.length;
    if (len - s < 6) return -1;
    let op: OpCode;
    let i: number;
    switch (lower(text, s)) {
      case 114: // r
        if (lower(text, s + 1) !== 101 || lower(text, s + 2) !== 97 || lower(text, s + 3) !== 100) return -1;
        op = Op.Read;
        i = s + 4;
        break;
      case 119: // w
        if (lower(text, s + 1) !== 114 || lower(text, s + 2) !== 105 || lower(text, s + 3) !== 116 || lower(text, s + 4) !== 101) return -1;
        op = Op.Write;
        i = s + 5;
        break;
      case 101: // e
        if (lower(text, s + 1) !== 120 || lower(text, s + 2) !== 101 || lower(text, s + 3) !== 99) return -1;
        op = Op.Exec;
        i = s + 4;
        break;
      case 112: // p
        if (lower(text, s + 1) !== 116 || lower(text, s + 2) !== 101) return -1;
        op = Op.Pte;
        i = s + 3;
        break;
      default:
        return -1;
    }
    // From here on c is the character at i, where `\n` also stands for the
    // end of the text (charAt): no scan goes past a `\n`, and i stops at len.
    let c = text.charCodeAt(i);
    if (!isWs(c)) return -1; // the keyword ends in whitespace
    do c = charAt(text, ++i, len);
    while (isWs(c));
    // The address.
    i = this.fastNum(text, i, c, len);
    if (i < 0) return -1;
    const vaLo = this.fLo;
    const vaHi = this.fHi;
    let va: number;
    if (this.mode === '64') {
      if (vaHi < 0x8000) va = vaHi * TWO32 + vaLo;
      else if (vaHi >= 0xffff8000) va = (vaHi - 0xffff0000) * TWO32 + vaLo;
      else return -1;
    } else {
      if (vaHi !== 0) return -1;
      va = vaLo;
    }
    c = charAt(text, i, len);
    while (isWs(c)) c = charAt(text, ++i, len);
    // `= VALUE`
    let hasValue = false;
    let lo = 0;
    let hi = 0;
    if (c === 61 && (op === Op.Write || op === Op.Pte)) {
      do c = charAt(text, ++i, len);
      while (isWs(c));
      i = this.fastNum(text, i, c, len);
      if (i < 0) return -1;
      lo = this.fLo;
      hi = this.fHi;
      hasValue = true;
      c = charAt(text, i, len);
      while (isWs(c)) c = charAt(text, ++i, len);
    } else if (op === Op.Pte) return -1;
    if (op === Op.Pte) {
      // Flag names, each at most once.
      const numLo = lo;
      let seen = 0;
      while ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) {
        const w = i;
        let f: number;
        c = charAt(text, ++i, len);
        if (isWordCont(c)) {
          do c = charAt(text, ++i, len);
          while (isWordCont(c));
          f = matchWord(text, w, i, FLAG_LOWER, FLAG_BY_LEN);
        } else f = FLAG_1[text.charCodeAt(w)]!;
        if (f < 0 || (seen & (1 << f)) !== 0) return -1;
        seen |= 1 << f;
        if (f === F_NX) {
          if (this.mode === '32') return -1;
          hi = (hi | 0x80000000) >>> 0;
        } else lo = (lo | (1 << PTE_FLAGS[f]!.bit)) >>> 0;
        while (isWs(c)) c = charAt(text, ++i, len);
      }
      if (seen !== 0 && (numLo & 0xfff) !== 0) return -1;
      if (this.mode === '32' && hi !== 0) return -1;
    }
    // Only a comment may follow, up to the line's end.
    let nl = i;
    if (c === 35) {
      nl = text.indexOf('\n', i);
      if (nl < 0) nl = len;
    } else if (c !== 10) return -1;
    const e = nl > s && nl < len && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
    if (e - s > MAX_LINE_LENGTH) return -1;
    if (op === Op.Write) {
      const size = this.esize;
      if (hasValue && size !== 8 && hi !== 0) return -1; // does not fit
      if ((vaLo & 0xfff) + size > KIB4) return -1; // crosses a page
    }
    this.fOp = op;
    this.fVa = va;
    this.fLo = lo;
    this.fHi = hi;
    this.fHasValue = hasValue;
    return nl;
  }

  /** Appends the row of the line that fastLine has read: the same row as the general path makes. */
  protected pushFast(): void {
    const op = this.fOp;
    if (this.inSetup) {
      this.inSetup = false;
      this.firstEventLine = this.ln;
    }
    const size = op === Op.Read || op === Op.Exec ? 1 : this.esize;
    const flags = this.fHasValue ? EF_HAS_VALUE : 0;
    this.program.events.pushLoHi(op, this.ln, this.fVa, 0, this.fLo, this.fHi, size, op === Op.Pte ? 1 : 0, 0, flags);
  }

  /**
   * A plain number (see fastLine) at i, whose first character is c, into
   * fLo/fHi: the offset after it, or -1 when there is none or it is not plain.
   */
  protected fastNum(text: string, i: number, c: number, len: number): number {
    let lo = 0;
    let hi = 0;
    if (c === 48 && (charAt(text, i + 1, len) | 0x20) === 120) {
      i += 2;
      const d0 = i;
      for (;;) {
        const d = charAt(text, i, len);
        const h = d < 128 ? HEXV[d]! : -1;
        if (h < 0) {
          if (isNumCont(d)) return -1; // `_`, a suffix or a stray letter
          break;
        }
        hi = ((hi << 4) | (lo >>> 28)) >>> 0;
        lo = ((lo << 4) | h) >>> 0;
        i++;
      }
      if (i === d0 || i - d0 > 16) return -1;
    } else if (c >= 48 && c <= 57) {
      const d0 = i;
      let v = 0;
      for (;;) {
        const d = charAt(text, i, len);
        if (d < 48 || d > 57) {
          if (isNumCont(d)) return -1;
          break;
        }
        v = v * 10 + (d - 48);
        i++;
      }
      if (i - d0 > 15) return -1;
      hi = Math.floor(v / TWO32);
      lo = v - hi * TWO32;
    } else return -1;
    this.fLo = lo;
    this.fHi = hi;
    return i;
  }

}
