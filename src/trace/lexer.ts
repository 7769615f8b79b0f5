// The tokenizer of one line. It scans char codes of the original text and
// records each token's kind and [start, end) offsets in reusable typed
// arrays: no string is made per token. Numbers are scanned later, by the
// parser, only where one is expected (numbers.ts).
//
// Tokens:
//   WORD   [A-Za-z_][A-Za-z0-9_.-]*       keywords, flags, levels, names
//   NUM    [0-9][A-Za-z0-9_]*             checked by scanNumber; a plain hex
//          (`0x` and up to 13 digits) or decimal (up to 15 digits) number
//          gets its value here, in the same pass (`val`), else `val` is NaN
//   EQ     =
//   DOTDOT ..
//   LABEL  @name  (just `@` when no name follows)
//   OTHER  any other character (a surrogate pair counts as one)
// Whitespace is space, tab, CR, VT and FF. `#` ends the line's tokens (a
// comment). `expect` lines are not tokenized past their keyword: the parser
// hands their text to the expression parser.

export const T_WORD = 1;
export const T_NUM = 2;
export const T_EQ = 3;
export const T_DOTDOT = 4;
export const T_LABEL = 5;
export const T_OTHER = 6;

/** The most tokens kept for one line; no valid statement comes near it. */
export const MAX_TOKENS = 64;

const C_WS = 1;
const C_WSTART = 2;
const C_WCONT = 4;
const C_DIGIT = 8;
const C_NCONT = 16;

/** Character classes of ASCII. */
export const CC = new Uint8Array(128);
(() => {
  for (const c of [32, 9, 13, 11, 12]) CC[c] = C_WS;
  for (let c = 65; c <= 90; c++) {
    CC[c] = C_WSTART | C_WCONT | C_NCONT;
    CC[c + 32] = C_WSTART | C_WCONT | C_NCONT;
  }
  CC[95] = C_WSTART | C_WCONT | C_NCONT; // _
  for (let c = 48; c <= 57; c++) CC[c] = C_DIGIT | C_WCONT | C_NCONT;
  CC[46] = C_WCONT; // .
  CC[45] = C_WCONT; // -
})();

export function isWs(c: number): boolean {
  return c < 128 && (CC[c]! & C_WS) !== 0;
}
export function isWordStart(c: number): boolean {
  return c < 128 && (CC[c]! & C_WSTART) !== 0;
}
export function isWordCont(c: number): boolean {
  return c < 128 && (CC[c]! & C_WCONT) !== 0;
}
/** A character that continues a NUM token: a letter, a digit or `_`. */
export function isNumCont(c: number): boolean {
  return c < 128 && (CC[c]! & C_NCONT) !== 0;
}

/** Hex digit values of ASCII, -1 elsewhere. */
export const HEXV = new Int8Array(128).fill(-1);
(() => {
  for (let c = 48; c <= 57; c++) HEXV[c] = c - 48;
  for (let c = 0; c < 6; c++) {
    HEXV[65 + c] = 10 + c;
    HEXV[97 + c] = 10 + c;
  }
})();

export class Lexer {
  readonly kind = new Uint8Array(MAX_TOKENS);
  readonly start = new Int32Array(MAX_TOKENS);
  readonly end = new Int32Array(MAX_TOKENS);
  /** NUM tokens: the value when the fast path could compute it exactly, else NaN. */
  readonly val = new Float64Array(MAX_TOKENS);
  count = 0;
  /** Tokens follow the MAX_TOKENS kept ones; `overflowAt` is where the first of them starts. */
  truncated = false;
  overflowAt = 0;

  /**
   * Tokenizes text[s..e) (one line without its line end), at most `limit`
   * tokens; more() goes on from there.
   */
  tokenize(text: string, s: number, e: number, limit = MAX_TOKENS): void {
    this.count = 0;
    this.truncated = false;
    this.scan(text, s, e, limit);
  }

  /** Tokenizes the rest of the line after the tokens already there. */
  more(text: string, e: number): void {
    const n = this.count;
    this.scan(text, n > 0 ? this.end[n - 1]! : e, e, MAX_TOKENS);
  }

  private scan(text: string, s: number, e: number, limit: number): void {
    const kind = this.kind;
    const start = this.start;
    const end = this.end;
    let n = this.count;
    let i = s;
    while (i < e) {
      const c = text.charCodeAt(i);
      if (c === 32) {
        i++;
        continue;
      }
      let j = i + 1;
      let k: number;
      if (c < 128) {
        const cl = CC[c]!;
        if (cl & C_WS) {
          i = j;
          continue;
        }
        if (c === 35) break; // '#'
      }
      if (n >= limit) {
        if (limit === MAX_TOKENS) {
          this.truncated = true;
          this.overflowAt = i;
        }
        break;
      }
      if (c < 128) {
        const cl = CC[c]!;
        if (cl & C_WSTART) {
          while (j < e) {
            const d = text.charCodeAt(j);
            if (d >= 128 || (CC[d]! & C_WCONT) === 0) break;
            j++;
          }
          k = T_WORD;
        } else if (cl & C_DIGIT) {
          // The value on the way, where it is plain and exact.
          let v = c - 48;
          let ok = true;
          if (c === 48 && j < e && (text.charCodeAt(j) | 0x20) === 120) {
            j++;
            v = 0;
            const d0 = j;
            while (j < e) {
              const d = text.charCodeAt(j);
              if (d >= 128) break;
              const h = HEXV[d]!;
              if (h < 0) {
                if ((CC[d]! & C_NCONT) === 0) break;
                ok = false;
              } else v = v * 16 + h;
              j++;
            }
            if (j === d0 || j - d0 > 13) ok = false;
          } else {
            while (j < e) {
              const d = text.charCodeAt(j);
              if (d >= 128) break;
              if (d >= 48 && d <= 57) v = v * 10 + (d - 48);
              else if ((CC[d]! & C_NCONT) === 0) break;
              else ok = false;
              j++;
            }
            if (j - i > 15) ok = false;
          }
          this.val[n] = ok ? v : NaN;
          k = T_NUM;
        } else if (c === 61) {
          k = T_EQ;
        } else if (c === 46 && j < e && text.charCodeAt(j) === 46) {
          j++;
          k = T_DOTDOT;
        } else if (c === 64) {
          if (j < e && isWordStart(text.charCodeAt(j))) {
            j++;
            while (j < e && isWordCont(text.charCodeAt(j))) j++;
          }
          k = T_LABEL;
        } else {
          k = T_OTHER;
        }
      } else {
        if (c >= 0xd800 && c < 0xdc00 && j < e) {
          const d = text.charCodeAt(j);
          if (d >= 0xdc00 && d < 0xe000) j++;
        }
        k = T_OTHER;
      }
      kind[n] = k;
      start[n] = i;
      end[n] = j;
      n++;
      i = j;
    }
    this.count = n;
  }
}
