// The parser of the .mmutrace language (docs: /work/shared/spec/language.md).
//
// Decisions taken where language.md is silent:
// - `mode` must come before any `space`, `pool` or `poke` (their address width
//   and default size depend on it). `mode`, `policy`, `vcpus`, `pool` and
//   `shadow-pages` may appear once (an error names the first line); a second
//   `cpl` in the setup is a warning and the last one counts.
// - `policy` names are case-insensitive and recorded lower-case; a name other
//   than `zap`, `update`, `access` or `tdp` is a warning, recorded anyway (the engine decides).
// - `shadow-pages` is 1 to 1,000,000; `map VA..VA_END` maps at most 1,048,576
//   pages per line.
// - Labels end read, write, exec, pte, store, cr3 and invlpg only; on a setup
//   directive, `vcpu`, `cpl` or `expect` they are an error. Label and space
//   names are case-sensitive.
// - The VALUE of write/store/poke is a plain number: flag names belong to PTE
//   values (`map`, `pte`). `= VALUE` follows the address; `size`, `offset`,
//   `user`, `kernel` come after it in any order, each at most once; the label last.
// - A single `map VA` need not be page-aligned (it stores the entry that maps
//   VA); both ends of a range must be aligned to the level's page size. A range
//   end may be the end of its half of the address space (2^32; 0x8000_0000_0000
//   in mode 64), a mode-64 range cannot cross the non-canonical hole.
// - k/m/g suffixes (either case) are accepted on every number; `_` may appear
//   anywhere among the digits.
// - Line ends are `\n` and `\r\n`; a `\r` followed by more text on its line
//   (classic Mac OS line ends) is an error on the first line that has one (that
//   line is not parsed); a `\r` before a line end, another `\r` or the end of
//   the text is whitespace, like tab, VT and FF.
//   A BOM is skipped at the very start only and is not a column. Columns count
//   UTF-16 code units (as VS Code does). lineCount is the number of `\n`, plus
//   one when the text does not end with one.
// - A line over MAX_LINE_LENGTH characters is an error (unless it is a comment)
//   and is not tokenized; so is a line of more than MAX_TOKENS words.
// - A statement stops at its first error (warnings aside); a statement with an
//   error makes no row, no setup entry and defines no label.
// - In `expect`, a `#` inside double quotes does not start a comment.
// - Rows: read/exec size 1; cr3, invlpg, vcpu, cpl, expect size 0; level 0
//   except for pte. `cr3 NAME`: addr 0, arg the space index; `cr3 GPA`: arg -1.
//
// Design: one pass, line by line, resumable (TraceParser.parseLines). Each
// line is split with indexOf('\n'), tokenized into reusable typed arrays
// (lexer.ts) and parsed by hand; numbers are scanned from char codes into two
// 32-bit halves (numbers.ts). Events go straight into the EventTable columns;
// statement objects are made only for the setup (Program.setup), for `expect`
// and when `keepStatements` asks for them. Every error is reported, one per
// statement at most (a statement stops at its first error, so nothing
// cascades), and parsing goes on with the next line.

import { parseExpr } from '../expr';
import {
  EF_HAS_VALUE,
  EF_KERNEL,
  EF_USER,
  EventTable,
  Op,
  entrySize,
  modeLevels,
  type Cpl,
  type Diagnostic,
  type AccessStmt,
  type ExpectStmt,
  type ExprNodeRef,
  type Fix,
  type Label,
  type MapStmt,
  type Mode,
  type OpCode,
  type ParseOptions,
  type ParseResult,
  type PokeStmt,
  type Program,
  type Range,
  type Severity,
  type SpaceStmt,
  type Stmt,
} from './ast';
import { escapeInvisible } from './escape';
import { didYouMean } from './hints';
import { HEXV, Lexer, MAX_TOKENS, T_DOTDOT, T_EQ, T_LABEL, T_NUM, T_OTHER, T_WORD, isNumCont, isWordCont, isWordStart, isWs } from './lexer';
import { NUM_BAD_DIGIT, NUM_NO_DIGITS, NUM_OK, NUM_OVERFLOW, scanNumber, toBigInt, type NumOut } from './numbers';

/** language.md: the policies a `policy` directive names (the engine's `POLICY_NAMES`). */
const KNOWN_POLICIES = ['zap', 'update', 'access', 'tdp'];

// ---------------------------------------------------------------------------
// Limits.

/** Decision: a line longer than this is reported (unless it is a comment) and not tokenized. */
export const MAX_LINE_LENGTH = 100_000;
/** Decision: `shadow-pages` at most this many. The engine allocates pages lazily, so this only bounds the reclaim threshold. */
export const MAX_SHADOW_PAGES = 1_000_000;
/** The most pages one `map VA..VA_END` line may map. */
export const MAX_MAP_PAGES = 1_048_576;
export const MAX_VCPUS = 64;
export const DEFAULT_MAX_DIAGNOSTICS = 1000;
export const DEFAULT_POOL = 0x10000000;
export const DEFAULT_SHADOW_PAGES = 1024;

// ---------------------------------------------------------------------------
// Words.

const K_MODE = 0;
const K_POLICY = 1;
const K_VCPUS = 2;
const K_CPL = 3;
const K_POOL = 4;
const K_SHADOW = 5;
const K_SPACE = 6;
const K_MAP = 7;
const K_POKE = 8;
const K_READ = 9;
const K_WRITE = 10;
const K_EXEC = 11;
const K_PTE = 12;
const K_STORE = 13;
const K_CR3 = 14;
const K_INVLPG = 15;
const K_VCPU = 16;
const K_EXPECT = 17;

/** Every keyword, setup directives first. */
export const KEYWORDS = [
  'mode',
  'policy',
  'vcpus',
  'cpl',
  'pool',
  'shadow-pages',
  'space',
  'map',
  'poke',
  'read',
  'write',
  'exec',
  'pte',
  'store',
  'cr3',
  'invlpg',
  'vcpu',
  'expect',
] as const;
export const SETUP_KEYWORDS = KEYWORDS.slice(0, K_READ);
/** Keywords valid after the setup: the events, `vcpu`, `expect` and `cpl`. */
export const EVENT_KEYWORDS = [...KEYWORDS.slice(K_READ), 'cpl'];

/** Flag names of PTE values and their bit numbers. */
export const PTE_FLAGS: readonly { name: string; bit: number }[] = [
  { name: 'P', bit: 0 },
  { name: 'W', bit: 1 },
  { name: 'U', bit: 2 },
  { name: 'PWT', bit: 3 },
  { name: 'PCD', bit: 4 },
  { name: 'A', bit: 5 },
  { name: 'D', bit: 6 },
  { name: 'PS', bit: 7 },
  { name: 'G', bit: 8 },
  { name: 'NX', bit: 63 },
];
const FLAG_NAMES = PTE_FLAGS.map((f) => f.name);
const FLAG_LOWER = FLAG_NAMES.map((f) => f.toLowerCase());
const F_NX = 9;
/** The flags of one letter, by char code (either case); -1 for other characters. */
const FLAG_1 = new Int8Array(128).fill(-1);
FLAG_LOWER.forEach((f, i) => {
  if (f.length === 1) FLAG_1[f.charCodeAt(0)] = FLAG_1[f.charCodeAt(0) - 32] = i;
});

const TAIL_WORDS = ['size', 'offset', 'user', 'kernel'];
const W_SIZE = 0;
const W_OFFSET = 1;
const W_USER = 2;
const W_KERNEL = 3;

const A_SIZE = 1;
const A_OFFSET = 2;
const A_CPL = 4;
const A_LABEL = 8;

function byLength(names: readonly string[]): number[][] {
  const t: number[][] = [];
  names.forEach((n, i) => (t[n.length] ??= []).push(i));
  return t;
}
const KW_BY_LEN = byLength(KEYWORDS);
const FLAG_BY_LEN = byLength(FLAG_LOWER);
const TAIL_BY_LEN = byLength(TAIL_WORDS);

/** Index of the (lower-case) word text[s..e) in names, compared case-insensitively; -1 when absent. */
function matchWord(text: string, s: number, e: number, names: readonly string[], table: number[][]): number {
  const cands = table[e - s];
  if (cands === undefined) return -1;
  outer: for (let ci = 0; ci < cands.length; ci++) {
    const idx = cands[ci]!;
    const name = names[idx]!;
    for (let i = s; i < e; i++) {
      let c = text.charCodeAt(i);
      if (c >= 65 && c <= 90) c += 32;
      if (c !== name.charCodeAt(i - s)) continue outer;
    }
    return idx;
  }
  return -1;
}

const TWO32 = 4294967296;
const KIB4 = 4096;

/** The char code at i with bit 5 set: a letter in lower case (and other characters changed, or NaN at the end, never equal to a letter). */
function lower(text: string, i: number): number {
  return text.charCodeAt(i) | 0x20;
}

/** The char code at i, or that of `\n` at the end of the text (len). */
function charAt(text: string, i: number, len: number): number {
  return i < len ? text.charCodeAt(i) : 10;
}

/** Page size mapped by one entry of `level`. */
function levelPageSize(level: number, mode: Mode): number {
  switch (level) {
    case 1:
      return KIB4;
    case 2:
      return mode === '32' ? 4 * 1024 * 1024 : 2 * 1024 * 1024;
    case 3:
      return 1024 * 1024 * 1024;
    default:
      return 512 * 1024 * 1024 * 1024;
  }
}
function sizeName(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${bytes / 1024 ** 3} GiB`;
  if (bytes >= 1024 ** 2) return `${bytes / 1024 ** 2} MiB`;
  return `${bytes / 1024} KiB`;
}
function modeName(mode: Mode): string {
  return `mode ${mode}`;
}
function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

// ---------------------------------------------------------------------------

export class TraceParser {
  /**
   * Whether parsers made from now on try the fast path for the common event
   * lines (fastLine) before the general one. Only the tests turn it off, to
   * check that both paths agree.
   */
  static fastPath = true;

  private readonly text: string;
  private readonly keep: boolean;
  /** fastLine may be tried (not when statement objects are kept: it makes none). */
  private readonly fast: boolean;
  /** firstLoneCr of the text, or -1 (a file with one does not take the fast path). */
  private readonly loneCr: number;
  private readonly maxDiag: number;
  private readonly lx = new Lexer();
  private readonly num: NumOut = { lo: 0, hi: 0, err: 0, at: 0 };

  /** Offset of the next line to parse. */
  private pos: number;
  private lines = 0;
  private finished = false;
  private trimmed = false;
  private total = -1;

  // The current line.
  private ls = 0;
  private ln = 0;
  private n = 0;

  // Machine state that later lines depend on.
  private mode: Mode = '64';
  private esize = 8;
  private inSetup = true;
  private firstEventLine = 0;
  private modeLine = 0;
  private policyLine = 0;
  private vcpusLine = 0;
  private poolLine = 0;
  private shadowLine = 0;
  private cplLine = 0;
  /** The first `space`, `pool` or `poke` line (after which `mode` may not come). */
  private modeBlockLine = 0;
  private modeBlockKw = '';
  private curSpace = -1;
  private readonly spaceIndex = new Map<string, number>();
  private readonly labelLines = new Map<string, number>();

  // Output.
  private readonly program: Program;
  private readonly diags: Diagnostic[] = [];
  private readonly stmts: Stmt[] = [];
  private errors = 0;
  private suppressed = 0;
  private suppressedAt: Range | undefined;

  // Scratch results of the helpers below.
  private va = 0;
  private vaLo = 0;
  private vaHi = 0;
  private gpa = 0;
  private vlo = 0;
  private vhi = 0;
  private pteLo = 0;
  private pteHi = 0;
  private pteEnd = 0;
  private tSize = -1;
  private tOffset = -1;
  /** Token of the `size` / `offset` word, or -1. */
  private tSizeTok = -1;
  private tOffsetTok = -1;
  private tCpl = 0;
  private tLabel = -1;
  private tEnd = 0;
  private level = 1;
  /** The row that fastLine has read (fLo/fHi are fastNum's value on the way). */
  private fOp: OpCode = Op.Read;
  private fVa = 0;
  private fLo = 0;
  private fHi = 0;
  private fHasValue = false;

  constructor(text: string, opts?: ParseOptions) {
    this.text = typeof text === 'string' ? text : String(text ?? '');
    this.keep = opts?.keepStatements === true;
    this.loneCr = firstLoneCr(this.text);
    this.fast = !this.keep && TraceParser.fastPath && this.loneCr < 0;
    const m = opts?.maxDiagnostics;
    this.maxDiag = typeof m === 'number' && m >= 0 ? Math.floor(m) : DEFAULT_MAX_DIAGNOSTICS;
    this.pos = this.text.charCodeAt(0) === 0xfeff ? 1 : 0;
    this.program = {
      mode: '64',
      vcpus: 1,
      cpl: 'user',
      pool: DEFAULT_POOL,
      shadowPages: DEFAULT_SHADOW_PAGES,
      spaces: [],
      setup: [],
      events: new EventTable(Math.min(1 << 16, Math.max(64, this.text.length >> 5))),
      expects: [],
      labels: new Map(),
      lineCount: 0,
    };
    if (this.pos >= this.text.length) this.finished = true;
  }

  /** Lines parsed so far. */
  get linesParsed(): number {
    return this.lines;
  }

  /**
   * Lines in the whole text: the number of `\n`, plus one when the text does
   * not end with one (an empty text has 0 lines). Counted once, on first use.
   */
  get totalLines(): number {
    if (this.total < 0) {
      const t = this.text;
      const start = t.charCodeAt(0) === 0xfeff ? 1 : 0;
      let count = 0;
      let i = t.indexOf('\n', start);
      while (i >= 0) {
        count++;
        i = t.indexOf('\n', i + 1);
      }
      if (t.length > start && t.charCodeAt(t.length - 1) !== 10) count++;
      this.total = count;
    }
    return this.total;
  }

  get done(): boolean {
    return this.finished;
  }

  /** Parses up to maxLines more lines; true when the whole text is done. */
  parseLines(maxLines: number): boolean {
    const text = this.text;
    const len = text.length;
    // Counted up to maxLines rather than down from it: maxLines is often
    // Infinity, and a count down from it would box a number on every line.
    let parsed = 0;
    while (!this.finished && parsed < maxLines) {
      try {
        while (parsed < maxLines) {
          const pos = this.pos;
          if (pos >= len) {
            this.finished = true;
            break;
          }
          if (this.fast) {
            const nl = this.fastLine(pos);
            if (nl >= 0) {
              this.pos = nl < len ? nl + 1 : len;
              this.ls = pos;
              this.ln = ++this.lines;
              parsed++;
              this.pushFast();
              if (this.pos >= len) this.finished = true;
              continue;
            }
          }
          let nl = text.indexOf('\n', pos);
          let next: number;
          let e: number;
          if (nl < 0) {
            nl = len;
            next = len;
            e = len;
          } else {
            next = nl + 1;
            e = nl > pos && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
          }
          this.pos = next;
          this.ls = pos;
          this.ln = ++this.lines;
          parsed++;
          this.parseLine(pos, e);
          if (next >= len) this.finished = true;
        }
      } catch (err) {
        // A bug, not the input's fault: report it on its line and go on.
        this.diag('error', this.ls, this.ls, `internal parser error: ${err instanceof Error ? err.message : String(err)}`);
        if (this.pos >= len) this.finished = true;
      }
    }
    if (this.finished) this.total = this.lines;
    return this.finished;
  }

  /** The program so far (complete once parseLines has returned true). */
  result(): ParseResult {
    const program = this.program;
    if (this.finished && !this.trimmed) {
      program.events.trim();
      this.trimmed = true;
    }
    program.lineCount = this.finished ? this.lines : this.totalLines;
    const diagnostics = this.diags.slice();
    if (this.suppressed > 0 && this.suppressedAt) {
      diagnostics.push({
        ...this.suppressedAt,
        severity: this.errors > this.diags.filter((d) => d.severity === 'error').length ? 'error' : 'warning',
        message: `${this.suppressed} more diagnostic${this.suppressed === 1 ? '' : 's'} not shown`,
      });
    }
    const r: ParseResult = { program, diagnostics, hasErrors: this.errors > 0 };
    if (this.keep) r.statements = this.stmts.slice();
    return r;
  }

  // -------------------------------------------------------------------------
  // Diagnostics and ranges.

  private range(s: number, e: number): Range {
    return { line: this.ln, col: s - this.ls + 1, endLine: this.ln, endCol: e - this.ls + 1 };
  }

  private diag(severity: Severity, s: number, e: number, message: string, hint?: string, fix?: Fix): false {
    if (severity === 'error') this.errors++;
    if (this.diags.length >= this.maxDiag) {
      this.suppressed++;
      this.suppressedAt ??= this.range(s, e);
      return false;
    }
    const ln = this.ln;
    const d: Diagnostic = { line: ln, col: s - this.ls + 1, endLine: ln, endCol: e - this.ls + 1, severity, message: escapeInvisible(message) };
    if (hint !== undefined) d.hint = escapeInvisible(hint);
    if (fix !== undefined) d.fix = fix;
    this.diags.push(d);
    return false;
  }

  private err(k: number, message: string, hint?: string, fix?: Fix): false {
    return this.diag('error', this.lx.start[k]!, this.lx.end[k]!, message, hint, fix);
  }

  private warn(k: number, message: string, hint?: string, fix?: Fix): void {
    this.diag('warning', this.lx.start[k]!, this.lx.end[k]!, message, hint, fix);
  }

  /** A replacement of token k. */
  private replace(k: number, newText: string, title = `Replace with \`${newText}\``): Fix {
    return { title, range: this.range(this.lx.start[k]!, this.lx.end[k]!), newText };
  }

  private word(k: number): string {
    return this.text.slice(this.lx.start[k]!, this.lx.end[k]!);
  }

  /** Token k quoted for a message (long tokens cut, control characters named). */
  private q(k: number): string {
    const s = this.lx.start[k]!;
    const e = this.lx.end[k]!;
    if (this.lx.kind[k] === T_OTHER) {
      const c = this.text.codePointAt(s)!;
      if (c < 32 || c === 127 || (c >= 0x80 && c < 0xa0) || c === 0xfeff || (c >= 0xd800 && c < 0xe000)) {
        return `character U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
      }
    }
    const t = e - s > 40 ? this.text.slice(s, s + 40) + '…' : this.text.slice(s, e);
    return '`' + t + '`';
  }

  /** "expected X after Y": at token k when it exists (", found …"), else at the last token. */
  private expected(k: number, what: string, after: string, hint?: string, fix?: Fix): false {
    if (k < this.n) return this.err(k, `expected ${what} after ${after}, found ${this.q(k)}`, hint, fix);
    if (this.lx.truncated) return this.tooManyTokens();
    return this.err(this.n - 1, `expected ${what} after ${after}`, hint, fix);
  }

  private tooManyTokens(): false {
    const at = this.lx.overflowAt;
    return this.diag('error', at, at + 1, `too many words on one line (the limit is ${MAX_TOKENS})`);
  }

  private numberError(k: number): false {
    const o = this.num;
    const what = this.q(k);
    if (o.err === NUM_OVERFLOW) return this.err(k, `${what} does not fit in 64 bits`);
    if (o.err === NUM_NO_DIGITS) return this.err(k, `${what} has no digits`);
    const s = this.lx.start[k]!;
    const p = this.text.charCodeAt(s + 1) | 0x20;
    const base = this.text.charCodeAt(s) === 48 && (p === 120 || p === 98) ? (p === 120 ? 'hex' : 'binary') : 'decimal';
    const bad = this.text.slice(o.at, o.at + 1);
    return this.err(k, `${what} is not a number: \`${bad}\` is not a ${base} digit`, base === 'decimal' ? 'hex numbers start with `0x`' : undefined);
  }

  /** Scans a number at token k (after `after`) into this.num. */
  private needNum(k: number, what: string, after: string): boolean {
    const lx = this.lx;
    if (k >= this.n || lx.kind[k] !== T_NUM) return this.expected(k, what, after);
    const v = lx.val[k]!;
    const o = this.num;
    if (v === v) {
      // The lexer's fast path (plain and below 2^53).
      const hi = Math.floor(v / TWO32);
      o.hi = hi;
      o.lo = v - hi * TWO32;
      o.err = NUM_OK;
      return true;
    }
    scanNumber(this.text, lx.start[k]!, lx.end[k]!, o);
    if (this.num.err !== NUM_OK) return this.numberError(k);
    return true;
  }

  /** A VA at token k: sets va (stored form), vaLo, vaHi (raw). */
  private needVa(k: number, after: string): boolean {
    if (!this.needNum(k, 'an address', after)) return false;
    const { lo, hi } = this.num;
    this.vaLo = lo;
    this.vaHi = hi;
    if (this.mode === '64') {
      if (hi < 0x8000) this.va = hi * TWO32 + lo;
      else if (hi >= 0xffff8000) this.va = (hi - 0xffff0000) * TWO32 + lo;
      else
        return this.err(
          k,
          `${this.q(k)} is not a canonical address: in mode 64 a VA is below 0x8000_0000_0000 or from 0xffff_8000_0000_0000`,
        );
    } else {
      if (hi !== 0) return this.err(k, `${this.q(k)} does not fit in 32 bits: VAs have 32 bits in ${modeName(this.mode)}`);
      this.va = lo;
    }
    return true;
  }

  /** A GPA at token k: sets gpa. */
  private needGpa(k: number, after: string, what = 'an address'): boolean {
    if (!this.needNum(k, what, after)) return false;
    const { lo, hi } = this.num;
    if (this.mode === '32') {
      if (hi !== 0) return this.err(k, `${this.q(k)} is beyond the 32-bit physical addresses of mode 32`);
    } else if (hi >= 0x100000) {
      return this.err(k, `${this.q(k)} is beyond the 52-bit physical addresses of ${modeName(this.mode)}`);
    }
    this.gpa = hi * TWO32 + lo;
    return true;
  }

  /** A plain value at token k into vlo/vhi. */
  private needValue(k: number, after: string): boolean {
    if (!this.needNum(k, 'a value', after)) return false;
    this.vlo = this.num.lo;
    this.vhi = this.num.hi;
    return true;
  }

  /** `= ` expected at token k. */
  private needEq(k: number, after: string): boolean {
    if (k < this.n && this.lx.kind[k] === T_EQ) return true;
    const fix: Fix | undefined =
      k < this.n ? { title: 'Insert `=`', range: this.range(this.lx.start[k]!, this.lx.start[k]!), newText: '= ' } : undefined;
    return this.expected(k, '`=`', after, undefined, fix);
  }

  /** An optional level word `Ln` at token k: sets level; returns the next token, or -1 after an error. */
  private optLevel(k: number): number {
    this.level = 1;
    if (k >= this.n || this.lx.kind[k] !== T_WORD) return k;
    const s = this.lx.start[k]!;
    const e = this.lx.end[k]!;
    if ((this.text.charCodeAt(s) | 0x20) !== 108 || e - s < 2) return k; // 'l'
    let v = 0;
    for (let i = s + 1; i < e; i++) {
      const c = this.text.charCodeAt(i);
      if (c < 48 || c > 57) return k;
      v = v * 10 + (c - 48);
      if (v > 1000) v = 1000;
    }
    const levels = modeLevels(this.mode);
    if (v < 1 || v > 4) {
      this.err(k, `${this.q(k)} is not a level: levels are L1 to L4`);
      return -1;
    }
    if (v > levels) {
      this.err(k, `\`L${v}\` does not exist in ${modeName(this.mode)} (levels L1..L${levels})`);
      return -1;
    }
    this.level = v;
    return k + 1;
  }

  /**
   * A PTE value at token k: a number and flag names. Sets pteLo/pteHi and
   * pteEnd; returns the next token, or -1 after an error.
   */
  private pteValue(k: number, after: string): number {
    if (!this.needNum(k, 'a PTE value', after)) return -1;
    const numTok = k;
    let lo = this.num.lo;
    let hi = this.num.hi;
    const numLo = lo;
    let seen = 0;
    k++;
    const lx = this.lx;
    while (k < this.n && lx.kind[k] === T_WORD) {
      const s = lx.start[k]!;
      const e = lx.end[k]!;
      const f = matchWord(this.text, s, e, FLAG_LOWER, FLAG_BY_LEN);
      if (f < 0) {
        if (matchWord(this.text, s, e, TAIL_WORDS, TAIL_BY_LEN) >= 0) break;
        const w = this.word(k);
        const dym = didYouMean(w, FLAG_NAMES);
        this.err(
          k,
          `unknown flag ${this.q(k)} (flags: ${FLAG_NAMES.join(' ')})`,
          dym ? `did you mean \`${dym}\`?` : undefined,
          dym ? this.replace(k, dym) : undefined,
        );
        return -1;
      }
      if (f === F_NX && this.mode === '32') {
        this.err(k, '`NX` does not exist in mode 32 (its entries have 32 bits)');
        return -1;
      }
      if (seen & (1 << f)) {
        this.warn(k, `flag \`${FLAG_NAMES[f]}\` given twice`, 'remove the second one', {
          title: `Remove the second \`${FLAG_NAMES[f]}\``,
          range: this.range(lx.end[k - 1]!, e),
          newText: '',
        });
      }
      seen |= 1 << f;
      if (f === F_NX) hi = (hi | 0x80000000) >>> 0;
      else lo = (lo | (1 << PTE_FLAGS[f]!.bit)) >>> 0;
      k++;
    }
    if (seen !== 0 && (numLo & 0xfff) !== 0) {
      this.err(
        numTok,
        `${this.q(numTok)} has bits 0..11 set while flags are named: give the frame with its low 12 bits clear, or the whole entry as a number`,
      );
      return -1;
    }
    if (this.mode === '32' && hi !== 0) {
      this.err(numTok, `${this.q(numTok)} is wider than the 4-byte entries of mode 32`);
      return -1;
    }
    this.pteLo = lo;
    this.pteHi = hi;
    this.pteEnd = lx.end[k - 1]!;
    return k;
  }

  /**
   * The optional parts that end a statement, in any order, the label last:
   * `size N`, `offset K`, `user`/`kernel`, `@label`, as `allow` permits.
   */
  private tail(k: number, allow: number, kw: number): boolean {
    this.tSize = -1;
    this.tOffset = -1;
    this.tSizeTok = -1;
    this.tOffsetTok = -1;
    this.tCpl = 0;
    this.tLabel = -1;
    const lx = this.lx;
    const n = this.n;
    const kwName = KEYWORDS[kw]!;
    while (k < n) {
      const kind = lx.kind[k];
      if (kind === T_LABEL) {
        if ((allow & A_LABEL) === 0) {
          const why =
            kw === K_VCPU || kw === K_CPL
              ? `\`${kwName}\` is not an event`
              : kw === K_EXPECT
                ? '`expect` is not an event'
                : `\`${kwName}\` is a setup directive`;
          return this.err(k, `labels are allowed on events only: ${why}`, 'remove the label', {
            title: 'Remove the label',
            range: this.range(k > 0 ? lx.end[k - 1]! : lx.start[k]!, lx.end[k]!),
            newText: '',
          });
        }
        if (lx.end[k]! - lx.start[k]! === 1) return this.err(k, 'expected a label name after `@`');
        if (k + 1 < n) return this.err(k + 1, `unexpected ${this.q(k + 1)}: the label must come last`);
        this.tLabel = k;
        k++;
        break;
      }
      if (kind === T_WORD) {
        const w = matchWord(this.text, lx.start[k]!, lx.end[k]!, TAIL_WORDS, TAIL_BY_LEN);
        if (w === W_SIZE || w === W_OFFSET) {
          const name = TAIL_WORDS[w]!;
          if (w === W_SIZE && (allow & A_SIZE) === 0) {
            return this.err(
              k,
              kw === K_READ || kw === K_EXEC ? `\`${kwName}\` touches one byte: it takes no \`size\`` : `\`size\` is not allowed on \`${kwName}\``,
            );
          }
          if (w === W_OFFSET && (allow & A_OFFSET) === 0) return this.err(k, '`offset` is allowed on `pte` only');
          if ((w === W_SIZE ? this.tSize : this.tOffset) >= 0) return this.err(k, `\`${name}\` given twice`);
          if (!this.needNum(k + 1, `a number`, `\`${name}\``)) return false;
          const { lo, hi } = this.num;
          if (w === W_SIZE) {
            if (hi !== 0 || (lo !== 1 && lo !== 2 && lo !== 4 && lo !== 8)) return this.err(k + 1, `size must be 1, 2, 4 or 8, not ${this.q(k + 1)}`);
            this.tSize = lo;
            this.tSizeTok = k;
          } else {
            if (hi !== 0 || lo >= this.esize) {
              return this.err(k + 1, `offset ${this.q(k + 1)} is past the ${this.esize}-byte entries of ${modeName(this.mode)}`);
            }
            this.tOffset = lo;
            this.tOffsetTok = k;
          }
          k += 2;
          continue;
        }
        if (w === W_USER || w === W_KERNEL) {
          if ((allow & A_CPL) === 0) return this.err(k, `\`${TAIL_WORDS[w]}\` is allowed on \`read\`, \`write\` and \`exec\` only`);
          if (this.tCpl !== 0) {
            return this.err(k, this.tCpl === w - 1 ? `\`${TAIL_WORDS[w]}\` given twice` : '`user` and `kernel` together: give one');
          }
          this.tCpl = w - 1; // 1 user, 2 kernel
          k++;
          continue;
        }
        const cands: string[] = [];
        if (allow & A_SIZE) cands.push('size');
        if (allow & A_OFFSET) cands.push('offset');
        if (allow & A_CPL) cands.push('user', 'kernel');
        const dym = didYouMean(this.word(k), cands);
        const isFlag = matchWord(this.text, lx.start[k]!, lx.end[k]!, FLAG_LOWER, FLAG_BY_LEN) >= 0;
        const extra =
          isFlag && (kw === K_WRITE || kw === K_STORE || kw === K_POKE) ? ': flag names are allowed in PTE values only (`map`, `pte`)' : '';
        return this.err(k, `unexpected ${this.q(k)}${extra}`, dym ? `did you mean \`${dym}\`?` : undefined, dym ? this.replace(k, dym) : undefined);
      }
      if (kind === T_DOTDOT) return this.err(k, 'unexpected `..`: address ranges are allowed on `map` only');
      return this.err(k, `unexpected ${this.q(k)}`);
    }
    if (lx.truncated) return this.tooManyTokens();
    this.tEnd = lx.end[n - 1]!;
    return true;
  }

  /** The label of the statement (tail() found it), checked for a duplicate. */
  private labelName(): string | undefined | false {
    if (this.tLabel < 0) return undefined;
    const k = this.tLabel;
    const name = this.text.slice(this.lx.start[k]! + 1, this.lx.end[k]!);
    const first = this.labelLines.get(name);
    if (first !== undefined) return this.err(k, `label \`${name}\` is already defined at line ${first}`);
    return name;
  }

  private labelObj(name: string | undefined): Label | undefined {
    if (name === undefined) return undefined;
    const k = this.tLabel;
    return { name, range: this.range(this.lx.start[k]!, this.lx.end[k]!) };
  }

  /** Appends an event row (and registers its label). */
  private row(op: OpCode, addr: number, arg: number, lo: number, hi: number, size: number, level: number, offset: number, flags: number, label: string | undefined): number {
    const t = this.program.events;
    const i = t.pushLoHi(op, this.ln, addr, arg, lo, hi, size, level, offset, flags);
    if (label !== undefined) {
      this.labelLines.set(label, this.ln);
      this.program.labels.set(label, i);
    }
    return i;
  }

  /** The statement's range: from its keyword to `end`. */
  private stmtRange(end: number): Range {
    return this.range(this.lx.start[0]!, end);
  }

  private kwRange(): Range {
    return this.range(this.lx.start[0]!, this.lx.end[0]!);
  }

  /** Adds the optional parts that tail() found to a statement object. */
  private finish<T extends Stmt>(stmt: T, label: string | undefined, cpl: boolean): T {
    if (label !== undefined) stmt.label = this.labelObj(label);
    if (cpl && this.tCpl !== 0) (stmt as { cpl?: Cpl }).cpl = this.tCpl === 1 ? 'user' : 'kernel';
    return stmt;
  }

  private tokRange(k: number): Range {
    return this.range(this.lx.start[k]!, this.lx.end[k]!);
  }

  // -------------------------------------------------------------------------
  // Lines.

  private parseLine(s: number, e: number): void {
    const text = this.text;
    if (e - s > MAX_LINE_LENGTH) {
      let i = s;
      while (i < e && isWs(text.charCodeAt(i))) i++;
      if (i >= e || text.charCodeAt(i) === 35) return; // a long comment is fine
      this.diag('error', i, e, `this line has ${e - s} characters: the limit is ${MAX_LINE_LENGTH}`);
      return;
    }
    if (this.loneCr >= s && this.loneCr < e) {
      this.diag(
        'error',
        this.loneCr,
        this.loneCr + 1,
        'a lone carriage return (CR) is not a line end: the lines of a trace end with LF or CRLF',
        'save the file with LF or CRLF line ends',
      );
      return;
    }
    const lx = this.lx;
    lx.tokenize(text, s, e, 1);
    if (lx.count === 0) return;
    this.n = 1;
    if (lx.kind[0] !== T_WORD) {
      this.err(0, `expected a keyword at the start of the line, found ${this.q(0)}`);
      return;
    }
    const kw = matchWord(text, lx.start[0]!, lx.end[0]!, KEYWORDS, KW_BY_LEN);
    // The rest of the line, except for `expect`, whose text goes to the expression parser.
    if (kw !== K_EXPECT) {
      lx.more(text, e);
      this.n = lx.count;
    }
    if (kw < 0) {
      const cands = this.inSetup ? KEYWORDS : EVENT_KEYWORDS;
      const dym = didYouMean(this.word(0), cands);
      if (dym) this.err(0, `unknown keyword ${this.q(0)}`, `did you mean \`${dym}\`?`, this.replace(0, dym));
      else {
        const late = !this.inSetup && didYouMean(this.word(0), SETUP_KEYWORDS);
        this.err(0, `unknown keyword ${this.q(0)}`, late ? `\`${late}\` is a setup directive: it must come before the first event` : undefined);
      }
      return;
    }
    if (kw >= K_READ) {
      if (this.inSetup) {
        this.inSetup = false;
        this.firstEventLine = this.ln;
      }
    } else if (kw !== K_CPL && !this.inSetup) {
      this.lateSetup(kw);
      return;
    }
    switch (kw) {
      case K_READ:
        this.access(Op.Read, kw);
        return;
      case K_EXEC:
        this.access(Op.Exec, kw);
        return;
      case K_WRITE:
        this.write();
        return;
      case K_PTE:
        this.pte();
        return;
      case K_STORE:
        this.store();
        return;
      case K_CR3:
        this.cr3();
        return;
      case K_INVLPG:
        this.invlpg();
        return;
      case K_VCPU:
        this.vcpu();
        return;
      case K_EXPECT:
        this.expect(e);
        return;
      case K_CPL:
        this.cpl();
        return;
      case K_MODE:
        this.modeDirective();
        return;
      case K_POLICY:
        this.policy();
        return;
      case K_VCPUS:
        this.vcpus();
        return;
      case K_POOL:
        this.pool();
        return;
      case K_SHADOW:
        this.shadowPages();
        return;
      case K_SPACE:
        this.space();
        return;
      case K_MAP:
        this.map();
        return;
      case K_POKE:
        this.poke();
        return;
    }
  }

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
  private fastLine(s: number): number {
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
  private pushFast(): void {
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
  private fastNum(text: string, i: number, c: number, len: number): number {
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

  /** A setup directive after the first event. */
  private lateSetup(kw: number): void {
    const name = KEYWORDS[kw]!;
    const msg = `\`${name}\` is a setup directive: setup directives must come before the first event (line ${this.firstEventLine})`;
    if (kw === K_MAP || kw === K_POKE) {
      const use = kw === K_MAP ? 'pte' : 'store';
      let range = false;
      for (let k = 1; k < this.n; k++) if (this.lx.kind[k] === T_DOTDOT) range = true;
      this.err(0, msg, `use \`${use}\``, range ? undefined : this.replace(0, use, `Replace \`${name}\` with \`${use}\``));
      return;
    }
    this.err(0, msg);
  }

  // Events ------------------------------------------------------------------

  private cplFlags(): number {
    return this.tCpl === 1 ? EF_USER : this.tCpl === 2 ? EF_KERNEL : 0;
  }

  private access(op: OpCode, kw: number): void {
    if (!this.needVa(1, kw === K_READ ? '`read`' : '`exec`')) return;
    if (!this.tail(2, A_CPL | A_LABEL, kw)) return;
    const label = this.labelName();
    if (label === false) return;
    this.row(op, this.va, 0, 0, 0, 1, 0, 0, this.cplFlags(), label);
    if (this.keep) {
      this.stmts.push(this.finish({
        line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(),
        kind: KEYWORDS[kw] as 'read' | 'exec',
        va: this.va,
        vaRange: this.tokRange(1),
        size: 1,
      }, label, true));
    }
  }

  /** Checks that `size` bytes at addr (low 32 bits: lo) stay in one 4 KiB page. */
  private crossCheck(k: number, lo: number, size: number, what: string): boolean {
    if ((lo & 0xfff) + size > KIB4) {
      return this.err(k, `the ${size}-byte ${what} at ${this.q(k)} crosses a 4 KiB page boundary`);
    }
    return true;
  }

  /** Checks that vlo/vhi fit in `size` bytes. */
  private fitCheck(k: number, size: number): boolean {
    const ok = size === 8 || (this.vhi === 0 && (size === 4 || this.vlo < 2 ** (8 * size)));
    if (!ok) return this.err(k, `${this.q(k)} does not fit in ${plural(size, 'byte')} (size ${size})`);
    return true;
  }

  private write(): void {
    if (!this.needVa(1, '`write`')) return;
    const vaLo = this.vaLo;
    let k = 2;
    let valTok = -1;
    this.vlo = 0;
    this.vhi = 0;
    if (k < this.n && this.lx.kind[k] === T_EQ) {
      if (!this.needValue(k + 1, '`=`')) return;
      valTok = k + 1;
      k += 2;
    } else if (k < this.n && this.lx.kind[k] === T_NUM) {
      this.err(k, `expected \`=\` before the value ${this.q(k)}`, undefined, {
        title: 'Insert `=`',
        range: this.range(this.lx.start[k]!, this.lx.start[k]!),
        newText: '= ',
      });
      return;
    }
    const vlo = this.vlo;
    const vhi = this.vhi;
    if (!this.tail(k, A_SIZE | A_CPL | A_LABEL, K_WRITE)) return;
    const size = this.tSize >= 0 ? this.tSize : this.esize;
    if (valTok >= 0 && !this.fitCheck(valTok, size)) return;
    if (!this.crossCheck(1, vaLo, size, 'write')) return;
    const label = this.labelName();
    if (label === false) return;
    const flags = this.cplFlags() | (valTok >= 0 ? EF_HAS_VALUE : 0);
    this.row(Op.Write, this.va, 0, vlo, vhi, size, 0, 0, flags, label);
    if (this.keep) {
      const stmt: AccessStmt = {
        line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(),
        kind: 'write',
        va: this.va,
        vaRange: this.tokRange(1),
        size,
      };
      if (valTok >= 0) {
        stmt.value = toBigInt(vlo, vhi);
        stmt.valueRange = this.tokRange(valTok);
      }
      this.stmts.push(this.finish(stmt, label, true));
    }
  }

  private pte(): void {
    if (!this.needVa(1, '`pte`')) return;
    const va = this.va;
    let k = this.optLevel(2);
    if (k < 0) return;
    const level = this.level;
    if (k < this.n && this.lx.kind[k] === T_DOTDOT) {
      this.err(k, 'unexpected `..`: address ranges are allowed on `map` only');
      return;
    }
    if (!this.needEq(k, k === 2 ? 'the address' : 'the level')) return;
    const valTok = k + 1;
    k = this.pteValue(valTok, '`=`');
    if (k < 0) return;
    const lo = this.pteLo;
    const hi = this.pteHi;
    const valEnd = this.pteEnd;
    if (!this.tail(k, A_SIZE | A_OFFSET | A_LABEL, K_PTE)) return;
    const size = this.tSize >= 0 ? this.tSize : this.esize;
    const offset = this.tOffset >= 0 ? this.tOffset : 0;
    if (size + offset > this.esize) {
      const what = this.tOffset >= 0 ? `size ${size} at offset ${offset}` : `size ${size}`;
      const toks = [this.tSizeTok, this.tOffsetTok].filter((t) => t >= 0);
      this.diag(
        'error',
        this.lx.start[Math.min(...toks)]!,
        this.lx.end[Math.max(...toks) + 1]!,
        `${what} goes past the end of the ${this.esize}-byte entries of ${modeName(this.mode)}`,
      );
      return;
    }
    const label = this.labelName();
    if (label === false) return;
    this.row(Op.Pte, va, 0, lo, hi, size, level, offset, EF_HAS_VALUE, label);
    if (this.keep) {
      this.stmts.push(this.finish({
        line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(),
        kind: 'pte',
        va,
        vaRange: this.tokRange(1),
        level,
        value: toBigInt(lo, hi),
        valueRange: this.range(this.lx.start[valTok]!, valEnd),
        size,
        offset,
      }, label, false));
    }
  }

  private store(): void {
    if (!this.needGpa(1, '`store`')) return;
    const gpa = this.gpa;
    const gpaLo = this.num.lo;
    if (!this.needEq(2, 'the address')) return;
    if (!this.needValue(3, '`=`')) return;
    const vlo = this.vlo;
    const vhi = this.vhi;
    if (!this.tail(4, A_SIZE | A_LABEL, K_STORE)) return;
    const size = this.tSize >= 0 ? this.tSize : this.esize;
    if (!this.fitCheck(3, size)) return;
    if (!this.crossCheck(1, gpaLo, size, 'store')) return;
    const label = this.labelName();
    if (label === false) return;
    this.row(Op.Store, gpa, 0, vlo, vhi, size, 0, 0, EF_HAS_VALUE, label);
    if (this.keep) {
      this.stmts.push(this.finish({
        line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(),
        kind: 'store',
        gpa,
        gpaRange: this.tokRange(1),
        value: toBigInt(vlo, vhi),
        valueRange: this.tokRange(3),
        size,
      }, label, false));
    }
  }

  private cr3(): void {
    const lx = this.lx;
    let space = -1;
    let gpa = 0;
    if (1 < this.n && lx.kind[1] === T_WORD) {
      const name = this.word(1);
      const idx = this.spaceIndex.get(name);
      if (idx === undefined) {
        const names = this.program.spaces.map((sp) => sp.name);
        const dym = didYouMean(name, names);
        this.err(
          1,
          names.length === 0 ? `no space is declared: \`${name}\` is unknown` : `unknown space ${this.q(1)}`,
          dym ? `did you mean \`${dym}\`?` : names.length === 0 ? 'declare it with `space NAME` in the setup' : undefined,
          dym ? this.replace(1, dym) : undefined,
        );
        return;
      }
      space = idx;
    } else {
      if (!this.needGpa(1, '`cr3`', 'a space name or an address')) return;
      gpa = this.gpa;
      if (this.num.lo & 0xfff) {
        this.err(1, `${this.q(1)}: not 4 KiB aligned (CR3 holds a page-table frame)`);
        return;
      }
    }
    if (!this.tail(2, A_LABEL, K_CR3)) return;
    const label = this.labelName();
    if (label === false) return;
    this.row(Op.Cr3, gpa, space, 0, 0, 0, 0, 0, 0, label);
    if (this.keep) {
      this.stmts.push(this.finish({
        line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(),
        kind: 'cr3',
        space,
        gpa,
        targetRange: this.tokRange(1),
      }, label, false));
    }
  }

  private invlpg(): void {
    if (!this.needVa(1, '`invlpg`')) return;
    if (!this.tail(2, A_LABEL, K_INVLPG)) return;
    const label = this.labelName();
    if (label === false) return;
    this.row(Op.Invlpg, this.va, 0, 0, 0, 0, 0, 0, 0, label);
    if (this.keep) {
      this.stmts.push(this.finish({
        line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(),
        kind: 'invlpg',
        va: this.va,
        vaRange: this.tokRange(1),
      }, label, false));
    }
  }

  private vcpu(): void {
    if (!this.needNum(1, 'a vCPU number', '`vcpu`')) return;
    const { lo, hi } = this.num;
    const count = this.program.vcpus;
    if (hi !== 0 || lo >= count) {
      this.err(1, `vCPU ${this.q(1)} does not exist: \`vcpus\` is ${count} (vCPUs 0..${count - 1})`, count < MAX_VCPUS ? 'raise `vcpus` in the setup' : undefined);
      return;
    }
    if (!this.tail(2, 0, K_VCPU)) return;
    this.row(Op.Vcpu, 0, lo, 0, 0, 0, 0, 0, 0, undefined);
    if (this.keep) this.stmts.push({ line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(), kind: 'vcpu', vcpu: lo });
  }

  private cpl(): void {
    const lx = this.lx;
    let w = -1;
    if (1 < this.n && lx.kind[1] === T_WORD) w = matchWord(this.text, lx.start[1]!, lx.end[1]!, TAIL_WORDS, TAIL_BY_LEN);
    if (w !== W_USER && w !== W_KERNEL) {
      const dym = 1 < this.n && lx.kind[1] === T_WORD ? didYouMean(this.word(1), ['user', 'kernel']) : undefined;
      this.expected(1, '`user` or `kernel`', '`cpl`', dym ? `did you mean \`${dym}\`?` : undefined, dym ? this.replace(1, dym) : undefined);
      return;
    }
    const cpl: Cpl = w === W_USER ? 'user' : 'kernel';
    if (!this.tail(2, 0, K_CPL)) return;
    if (this.inSetup) {
      if (this.cplLine) this.warn(0, `\`cpl\` given twice in the setup (first at line ${this.cplLine}): this one counts`);
      this.cplLine = this.ln;
      this.program.cpl = cpl;
    } else {
      this.row(Op.Cpl, 0, w === W_USER ? 0 : 1, 0, 0, 0, 0, 0, 0, undefined);
    }
    if (this.keep) this.stmts.push({ line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(), kind: 'cpl', cpl });
  }

  private expect(e: number): void {
    const text = this.text;
    const kwEnd = this.lx.end[0]!;
    // The expression runs to a `#` outside double quotes.
    let i = kwEnd;
    let inStr = false;
    let end = e;
    for (; i < e; i++) {
      const c = text.charCodeAt(i);
      if (inStr) {
        if (c === 92) i++;
        else if (c === 34) inStr = false;
      } else if (c === 34) inStr = true;
      else if (c === 35) {
        end = i;
        break;
      }
    }
    let xs = kwEnd;
    while (xs < end && isWs(text.charCodeAt(xs))) xs++;
    let xe = end;
    while (xe > xs && isWs(text.charCodeAt(xe - 1))) xe--;
    if (xs === xe) {
      this.err(0, 'expected an expression after `expect`');
      return;
    }
    // A trailing `@label` is not part of an expression.
    let j = xe;
    while (j > xs && isWordCont(text.charCodeAt(j - 1))) j--;
    if (j < xe && j - 1 >= xs && text.charCodeAt(j - 1) === 64 && isWordStart(text.charCodeAt(j))) {
      this.diag('error', j - 1, xe, 'labels are allowed on events only: `expect` is not an event', 'put the label on the event before');
      return;
    }
    const source = text.slice(xs, xe);
    const col = xs - this.ls + 1;
    let res: { expr?: unknown; diagnostics: Diagnostic[] };
    try {
      res = parseExpr(source, { line: this.ln, col });
    } catch (err) {
      this.diag('error', xs, xe, `internal error in the expression parser: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    let bad = false;
    const minCol = col;
    const maxCol = xe - this.ls + 1;
    for (const d of res.diagnostics ?? []) {
      // Keep what the expression parser says inside the expression's range.
      const c0 = Math.min(Math.max(Number.isFinite(d.col) ? d.col : minCol, minCol), maxCol);
      const c1 = Math.min(Math.max(Number.isFinite(d.endCol) && d.line === d.endLine ? d.endCol : maxCol, c0), maxCol);
      if (d.severity !== 'warning') bad = true;
      const s = c0 - 1 + this.ls;
      const eo = c1 - 1 + this.ls;
      const fix = d.fix && d.fix.range.line === this.ln && d.fix.range.endLine === this.ln ? d.fix : undefined;
      this.diag(d.severity === 'warning' ? 'warning' : 'error', s, eo, String(d.message), d.hint, fix);
    }
    if (bad || res.expr === undefined || res.expr === null) {
      if (!bad) this.diag('error', xs, xe, 'this expression could not be parsed');
      return;
    }
    const stmt: ExpectStmt = {
      line: this.ln, range: this.stmtRange(xe), keyword: this.kwRange(),
      kind: 'expect',
      source,
      exprRange: this.range(xs, xe),
      expr: res.expr as ExprNodeRef,
    };
    const idx = this.program.expects.length;
    this.program.expects.push(stmt);
    this.row(Op.Expect, 0, idx, 0, 0, 0, 0, 0, 0, undefined);
    if (this.keep) this.stmts.push(stmt);
  }

  // Setup -------------------------------------------------------------------

  /** Error for a directive that may appear once. */
  private once(firstLine: number, name: string): boolean {
    if (firstLine === 0) return true;
    return this.err(0, `\`${name}\` given twice (first at line ${firstLine})`);
  }

  private blockMode(kw: string): void {
    if (this.modeBlockLine === 0) {
      this.modeBlockLine = this.ln;
      this.modeBlockKw = kw;
    }
  }

  private modeDirective(): void {
    if (!this.once(this.modeLine, 'mode')) return;
    if (this.modeBlockLine) {
      this.err(
        0,
        `\`mode\` must come before any \`space\`, \`pool\` or \`poke\` (line ${this.modeBlockLine} has \`${this.modeBlockKw}\`)`,
        'addresses and sizes there depend on the mode: move `mode` to the top',
      );
      return;
    }
    const lx = this.lx;
    let mode: Mode | undefined;
    if (1 < this.n) {
      const t = this.word(1).toLowerCase();
      if (t === '32' || t === '64' || t === 'pae') mode = t;
    }
    if (mode === undefined) {
      const dym = 1 < this.n && lx.kind[1] === T_WORD ? didYouMean(this.word(1), ['pae']) : undefined;
      this.expected(1, '`32`, `pae` or `64`', '`mode`', dym ? `did you mean \`${dym}\`?` : undefined, dym ? this.replace(1, dym) : undefined);
      return;
    }
    if (!this.tail(2, 0, K_MODE)) return;
    this.modeLine = this.ln;
    this.mode = mode;
    this.esize = entrySize(mode);
    this.program.mode = mode;
    if (this.keep) this.stmts.push({ line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(), kind: 'mode', mode });
  }

  private policy(): void {
    if (!this.once(this.policyLine, 'policy')) return;
    if (!(1 < this.n && this.lx.kind[1] === T_WORD)) {
      this.expected(1, 'a policy name', '`policy`');
      return;
    }
    if (!this.tail(2, 0, K_POLICY)) return;
    const name = this.word(1).toLowerCase();
    if (!KNOWN_POLICIES.includes(name)) {
      const dym = didYouMean(name, KNOWN_POLICIES);
      this.warn(
        1,
        `unknown policy ${this.q(1)}: the known policies are \`zap\`, \`update\`, \`access\` and \`tdp\` (the engine decides)`,
        dym ? `did you mean \`${dym}\`?` : undefined,
        dym ? this.replace(1, dym) : undefined,
      );
    }
    this.policyLine = this.ln;
    this.program.policy = name;
    this.program.policyLine = this.ln;
    if (this.keep) this.stmts.push({ line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(), kind: 'policy', name, nameRange: this.tokRange(1) });
  }

  private vcpus(): void {
    if (!this.once(this.vcpusLine, 'vcpus')) return;
    if (!this.needNum(1, 'a number', '`vcpus`')) return;
    const { lo, hi } = this.num;
    if (hi !== 0 || lo < 1 || lo > MAX_VCPUS) {
      this.err(1, `\`vcpus\` must be 1 to ${MAX_VCPUS}, not ${this.q(1)}`);
      return;
    }
    if (!this.tail(2, 0, K_VCPUS)) return;
    this.vcpusLine = this.ln;
    this.program.vcpus = lo;
    if (this.keep) this.stmts.push({ line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(), kind: 'vcpus', count: lo });
  }

  private pool(): void {
    if (!this.once(this.poolLine, 'pool')) return;
    if (!this.needGpa(1, '`pool`')) return;
    if (this.num.lo & 0xfff) {
      this.err(1, `${this.q(1)}: not 4 KiB aligned (the pool hands out whole pages)`);
      return;
    }
    const gpa = this.gpa;
    if (!this.tail(2, 0, K_POOL)) return;
    this.poolLine = this.ln;
    this.blockMode('pool');
    this.program.pool = gpa;
    if (this.keep) this.stmts.push({ line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(), kind: 'pool', gpa });
  }

  private shadowPages(): void {
    if (!this.once(this.shadowLine, 'shadow-pages')) return;
    if (!this.needNum(1, 'a number', '`shadow-pages`')) return;
    const { lo, hi } = this.num;
    if (hi !== 0 || lo < 1 || lo > MAX_SHADOW_PAGES) {
      this.err(1, `\`shadow-pages\` must be 1 to ${MAX_SHADOW_PAGES}, not ${this.q(1)}`);
      return;
    }
    if (!this.tail(2, 0, K_SHADOW)) return;
    this.shadowLine = this.ln;
    this.program.shadowPages = lo;
    if (this.keep) this.stmts.push({ line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(), kind: 'shadow-pages', count: lo });
  }

  private space(): void {
    if (!(1 < this.n && this.lx.kind[1] === T_WORD)) {
      this.expected(1, 'a name', '`space`');
      return;
    }
    const name = this.word(1);
    const first = this.spaceIndex.get(name);
    if (first !== undefined) {
      this.err(1, `space \`${name}\` is already declared at line ${this.program.spaces[first]!.line}`);
      return;
    }
    if (!this.tail(2, 0, K_SPACE)) return;
    const index = this.program.spaces.length;
    const nameRange = this.tokRange(1);
    this.program.spaces.push({ name, line: this.ln, range: nameRange });
    this.spaceIndex.set(name, index);
    this.curSpace = index;
    this.blockMode('space');
    const stmt: SpaceStmt = { line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(), kind: 'space', name, nameRange, index };
    this.program.setup.push(stmt);
    if (this.keep) this.stmts.push(stmt);
  }

  private map(): void {
    if (this.curSpace < 0) {
      this.err(0, '`map` needs a space: declare one with `space NAME` first', 'add `space NAME` before this line');
      return;
    }
    if (!this.needVa(1, '`map`')) return;
    const va = this.va;
    const vaHi = this.vaHi;
    let vaEnd: number | undefined;
    let k = 2;
    let endTok = -1;
    if (k < this.n && this.lx.kind[k] === T_DOTDOT) {
      if (!this.needNum(k + 1, 'the end address', '`..`')) return;
      endTok = k + 1;
      const { lo, hi } = this.num;
      if (this.mode === '64') {
        if (vaHi < 0x8000) {
          if (hi > 0x8000 || (hi === 0x8000 && lo !== 0)) {
            this.err(endTok, `${this.q(endTok)} is past the end of the lower canonical half (0x8000_0000_0000) where the range starts`);
            return;
          }
          vaEnd = hi * TWO32 + lo;
        } else {
          if (hi < 0xffff8000) {
            this.err(endTok, `${this.q(endTok)} is below the upper canonical half (0xffff_8000_0000_0000) where the range starts`);
            return;
          }
          vaEnd = (hi - 0xffff0000) * TWO32 + lo;
        }
      } else {
        if (hi > 1 || (hi === 1 && lo !== 0)) {
          this.err(endTok, `${this.q(endTok)} is past the end of the 32-bit addresses of ${modeName(this.mode)}`);
          return;
        }
        vaEnd = hi * TWO32 + lo;
      }
      k += 2;
    }
    const lk = k;
    k = this.optLevel(k);
    if (k < 0) return;
    const level = this.level;
    if (!this.needEq(k, k !== lk ? 'the level' : 'the address')) return;
    const valTok = k + 1;
    k = this.pteValue(valTok, '`=`');
    if (k < 0) return;
    const lo = this.pteLo;
    const hi = this.pteHi;
    const valEnd = this.pteEnd;
    if (!this.tail(k, 0, K_MAP)) return;
    if (vaEnd !== undefined) {
      const ps = levelPageSize(level, this.mode);
      const what = `${sizeName(ps)} pages of level ${level}`;
      if (va % ps !== 0) {
        this.err(1, `${this.q(1)}: not aligned to the ${what}`);
        return;
      }
      if (vaEnd % ps !== 0) {
        this.err(endTok, `${this.q(endTok)}: not aligned to the ${what}`);
        return;
      }
      if (vaEnd <= va) {
        this.diag('error', this.lx.start[1]!, this.lx.end[endTok]!, `the range is empty: ${this.q(endTok)} is not above ${this.q(1)}`);
        return;
      }
      const pages = (vaEnd - va) / ps;
      if (pages > MAX_MAP_PAGES) {
        this.diag('error', this.lx.start[1]!, this.lx.end[endTok]!, `the range maps ${pages} pages: the limit is ${MAX_MAP_PAGES} for one line`);
        return;
      }
      // Each page's frame is the previous one's plus the page size: the last must still fit the frame field.
      const field = this.mode === '32' ? 0xfffff000n : 0x000ffffffffff000n;
      const last = (toBigInt(lo, hi) & field) + BigInt(pages - 1) * BigInt(ps);
      if (last > field) {
        this.diag(
          'error',
          this.lx.start[1]!,
          this.pteEnd,
          `the range's frames overflow the frame field: its last page would need frame address 0x${last.toString(16)}, above the highest, 0x${field.toString(16)}`,
        );
        return;
      }
    }
    const stmt: MapStmt = {
      line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(),
      kind: 'map',
      va,
      vaRange: this.range(this.lx.start[1]!, this.lx.end[endTok >= 0 ? endTok : 1]!),
      level,
      pte: toBigInt(lo, hi),
      pteRange: this.range(this.lx.start[valTok]!, valEnd),
      space: this.curSpace,
    };
    if (vaEnd !== undefined) stmt.vaEnd = vaEnd;
    this.program.setup.push(stmt);
    if (this.keep) this.stmts.push(stmt);
  }

  private poke(): void {
    if (!this.needGpa(1, '`poke`')) return;
    const gpa = this.gpa;
    const gpaLo = this.num.lo;
    if (!this.needEq(2, 'the address')) return;
    if (!this.needValue(3, '`=`')) return;
    const vlo = this.vlo;
    const vhi = this.vhi;
    if (!this.tail(4, A_SIZE, K_POKE)) return;
    const size = this.tSize >= 0 ? this.tSize : this.esize;
    if (!this.fitCheck(3, size)) return;
    if (!this.crossCheck(1, gpaLo, size, 'poke')) return;
    this.blockMode('poke');
    const stmt: PokeStmt = {
      line: this.ln,
        range: this.stmtRange(this.tEnd),
        keyword: this.kwRange(),
      kind: 'poke',
      gpa,
      gpaRange: this.tokRange(1),
      value: toBigInt(vlo, vhi),
      valueRange: this.tokRange(3),
      size,
    };
    this.program.setup.push(stmt);
    if (this.keep) this.stmts.push(stmt);
  }
}

/** The index of the first `\r` followed by text on its line (not by `\r`, `\n` or the end), or -1. */
function firstLoneCr(text: string): number {
  const last = text.length - 1;
  for (let i = text.indexOf('\r'); i >= 0 && i < last; i = text.indexOf('\r', i + 1)) {
    const c = text.charCodeAt(i + 1);
    if (c !== 10 && c !== 13) return i;
  }
  return -1;
}

/** Parses a whole trace. Never throws. */
export function parseTrace(text: string, opts?: ParseOptions): ParseResult {
  const p = new TraceParser(text, opts);
  p.parseLines(Infinity);
  return p.result();
}

// Re-exported for the grammar, completions and tests.
export { NUM_BAD_DIGIT, NUM_NO_DIGITS, NUM_OVERFLOW };
