// Numbers of the trace language (language.md, "Lexical rules"): `0x1f` hex,
// `31` decimal, `0b11111` binary, `_` between digits, an optional `k`, `m` or
// `g` suffix (x 2^10, 2^20, 2^30), unsigned, at most 64 bits.
//
// The scanner works on char codes of the original text and keeps the value as
// two unsigned 32-bit halves in plain JS numbers, so the hot path of the parser
// never allocates a string or a BigInt for a number.

/** Scan results. */
export const NUM_OK = 0;
/** A character that is not a digit of the base (or a misplaced suffix). */
export const NUM_BAD_DIGIT = 1;
/** More than 64 bits. */
export const NUM_OVERFLOW = 2;
/** A prefix (`0x`, `0b`) or suffix with no digit. */
export const NUM_NO_DIGITS = 3;

export interface NumOut {
  /** Low 32 bits, unsigned. */
  lo: number;
  /** High 32 bits, unsigned. */
  hi: number;
  /** NUM_OK or an error code. */
  err: number;
  /** Offset of the offending character (NUM_BAD_DIGIT). */
  at: number;
}

const TWO32 = 4294967296;

function digitValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  return 99;
}

/**
 * Scans the number text[s..e) (a token that starts with a digit) into `out`.
 * Underscores may appear anywhere among the digits (after the prefix).
 */
export function scanNumber(text: string, s: number, e: number, out: NumOut): void {
  out.lo = 0;
  out.hi = 0;
  out.err = NUM_OK;
  out.at = s;
  let i = s;
  let base = 10;
  if (e - s >= 2 && text.charCodeAt(s) === 48) {
    const p = text.charCodeAt(s + 1) | 0x20;
    if (p === 120) {
      base = 16;
      i += 2;
    } else if (p === 98) {
      base = 2;
      i += 2;
    }
  }
  // Suffix.
  let shift = 0;
  let end = e;
  if (end > i) {
    const l = text.charCodeAt(end - 1) | 0x20;
    if (l === 107) shift = 10;
    else if (l === 109) shift = 20;
    else if (l === 103) shift = 30;
    if (shift) end--;
  }
  let lo = 0;
  let hi = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 95) continue; // '_'
    const d = digitValue(c);
    if (d >= base) {
      out.err = NUM_BAD_DIGIT;
      out.at = i;
      return;
    }
    digits++;
    if (base === 16) {
      if (hi >= 0x10000000) {
        out.err = NUM_OVERFLOW;
        return;
      }
      const top = Math.floor(lo / 0x10000000);
      hi = hi * 16 + top;
      lo = (lo - top * 0x10000000) * 16 + d;
    } else if (base === 10) {
      const v = lo * 10 + d;
      const carry = Math.floor(v / TWO32);
      lo = v - carry * TWO32;
      hi = hi * 10 + carry;
      if (hi >= TWO32) {
        out.err = NUM_OVERFLOW;
        return;
      }
    } else {
      if (hi >= 0x80000000) {
        out.err = NUM_OVERFLOW;
        return;
      }
      const top = lo >= 0x80000000 ? 1 : 0;
      hi = hi * 2 + top;
      lo = (lo - top * 0x80000000) * 2 + d;
    }
  }
  if (digits === 0) {
    out.err = NUM_NO_DIGITS;
    return;
  }
  if (shift) {
    const room = 2 ** (32 - shift);
    if (hi >= room) {
      out.err = NUM_OVERFLOW;
      return;
    }
    const mul = 2 ** shift;
    const top = Math.floor(lo / room);
    hi = hi * mul + top;
    lo = (lo - top * room) * mul;
  }
  out.lo = lo;
  out.hi = hi;
}

/** Parses a whole string as a trace-language number; undefined when it is not one. */
export function parseNumber(text: string): bigint | undefined {
  const t = text.trim();
  if (t.length === 0) return undefined;
  const c = t.charCodeAt(0);
  if (c < 48 || c > 57) return undefined;
  for (let i = 1; i < t.length; i++) {
    const d = t.charCodeAt(i);
    const ok = (d >= 48 && d <= 57) || ((d | 0x20) >= 97 && (d | 0x20) <= 122) || d === 95;
    if (!ok) return undefined;
  }
  const out: NumOut = { lo: 0, hi: 0, err: 0, at: 0 };
  scanNumber(t, 0, t.length, out);
  if (out.err !== NUM_OK) return undefined;
  return (BigInt(out.hi) << 32n) | BigInt(out.lo);
}

/** The value of two 32-bit halves as a bigint. */
export function toBigInt(lo: number, hi: number): bigint {
  return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/** `0x…` with `_` every 4 hex digits from the right when longer than 8 digits. */
export function hex(lo: number, hi: number): string {
  let s = hi === 0 ? lo.toString(16) : hi.toString(16) + lo.toString(16).padStart(8, '0');
  if (s.length > 8) {
    let r = '';
    while (s.length > 4) {
      r = '_' + s.slice(-4) + r;
      s = s.slice(0, -4);
    }
    s = s + r;
  }
  return '0x' + s;
}
