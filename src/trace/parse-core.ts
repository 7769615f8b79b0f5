// The shared scanning state of the trace parser and the helpers every
// statement uses: the state that later lines depend on (mode, spaces, labels,
// the line being parsed), the diagnostics with their cap, ranges, quoting,
// numbers, addresses, PTE values, the optional tail of a statement (`size`,
// `offset`, `user`/`kernel`, `@label`) and the row that a statement appends.
// The statements themselves are in parse-setup.ts and parse-events.ts, the
// fast path in fastpath.ts, the line loop in parser.ts.

import {
  EF_KERNEL,
  EF_USER,
  EventTable,
  modeLevels,
  type Cpl,
  type Diagnostic,
  type Fix,
  type Label,
  type Mode,
  type OpCode,
  type ParseOptions,
  type Program,
  type Range,
  type Severity,
  type Stmt,
} from './ast';
import { escapeInvisible } from './escape';
import { didYouMean } from './hints';
import { Lexer, MAX_TOKENS, T_DOTDOT, T_EQ, T_LABEL, T_NUM, T_OTHER, T_WORD } from './lexer';
import { NUM_NO_DIGITS, NUM_OK, NUM_OVERFLOW, scanNumber, type NumOut } from './numbers';
import {
  A_CPL,
  A_LABEL,
  A_OFFSET,
  A_SIZE,
  DEFAULT_MAX_DIAGNOSTICS,
  DEFAULT_POOL,
  DEFAULT_SHADOW_PAGES,
  FLAG_BY_LEN,
  FLAG_LOWER,
  FLAG_NAMES,
  F_NX,
  KEYWORDS,
  KIB4,
  K_CPL,
  K_EXEC,
  K_EXPECT,
  K_READ,
  K_STORE,
  K_VCPU,
  K_WRITE,
  K_POKE,
  PTE_FLAGS,
  TAIL_BY_LEN,
  TAIL_WORDS,
  TWO32,
  W_KERNEL,
  W_OFFSET,
  W_SIZE,
  W_USER,
  matchWord,
  modeName,
  plural,
} from './words';

export abstract class ParserCore {
  /** The text being parsed: the whole trace, or (streaming, stream.ts) a window of whole lines. */
  protected text: string;
  protected readonly keep: boolean;
  /** fastLine may be tried (not when statement objects are kept: it makes none); set per text. */
  protected fast = false;
  /** firstLoneCr of the text, or -1 (a text with one does not take the fast path). */
  protected loneCr = -1;
  protected readonly maxDiag: number;
  protected readonly lx = new Lexer();
  protected readonly num: NumOut = { lo: 0, hi: 0, err: 0, at: 0 };

  /** Offset of the next line to parse. */
  protected pos = 0;
  protected lines = 0;
  protected finished = false;
  protected trimmed = false;
  protected total = -1;

  // The current line.
  protected ls = 0;
  protected ln = 0;
  protected n = 0;

  // Machine state that later lines depend on.
  protected mode: Mode = '64';
  protected esize = 8;
  protected inSetup = true;
  protected firstEventLine = 0;
  protected modeLine = 0;
  protected policyLine = 0;
  protected vcpusLine = 0;
  protected poolLine = 0;
  protected shadowLine = 0;
  protected cplLine = 0;
  /** The first `space`, `pool` or `poke` line (after which `mode` may not come). */
  protected modeBlockLine = 0;
  protected modeBlockKw = '';
  protected curSpace = -1;
  protected readonly spaceIndex = new Map<string, number>();
  protected readonly labelLines = new Map<string, number>();
  /** The labels defined so far, in order (append-only: a saved state shares it with its count). */
  protected labelList: { names: string[]; lines: number[] } = { names: [], lines: [] };

  // Output.
  protected readonly program: Program;
  /** The diagnostics found (streaming takes them as it goes: see `shown` for the cap). */
  protected diags: Diagnostic[] = [];
  protected readonly stmts: Stmt[] = [];
  protected errors = 0;
  /** Diagnostics kept (counted against maxDiag) and the errors among them. */
  protected shown = 0;
  protected shownErrors = 0;
  /** The line of the first error (0: none yet). */
  protected firstErrorLine = 0;
  protected suppressed = 0;
  protected suppressedAt: Range | undefined;

  // Scratch results of the helpers below.
  protected va = 0;
  protected vaLo = 0;
  protected vaHi = 0;
  protected gpa = 0;
  protected vlo = 0;
  protected vhi = 0;
  protected pteLo = 0;
  protected pteHi = 0;
  protected pteEnd = 0;
  protected tSize = -1;
  protected tOffset = -1;
  /** Token of the `size` / `offset` word, or -1. */
  protected tSizeTok = -1;
  protected tOffsetTok = -1;
  protected tCpl = 0;
  protected tLabel = -1;
  protected tEnd = 0;
  protected level = 1;

  constructor(text: string, opts?: ParseOptions) {
    this.text = typeof text === 'string' ? text : String(text ?? '');
    this.keep = opts?.keepStatements === true;
    const m = opts?.maxDiagnostics;
    this.maxDiag = typeof m === 'number' && m >= 0 ? Math.floor(m) : DEFAULT_MAX_DIAGNOSTICS;
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
  }

  // -------------------------------------------------------------------------
  // Diagnostics and ranges.

  protected range(s: number, e: number): Range {
    return { line: this.ln, col: s - this.ls + 1, endLine: this.ln, endCol: e - this.ls + 1 };
  }

  protected diag(severity: Severity, s: number, e: number, message: string, hint?: string, fix?: Fix): false {
    if (severity === 'error') {
      this.errors++;
      if (this.firstErrorLine === 0) this.firstErrorLine = this.ln;
    }
    if (this.shown >= this.maxDiag) {
      this.suppressed++;
      this.suppressedAt ??= this.range(s, e);
      return false;
    }
    const ln = this.ln;
    const d: Diagnostic = { line: ln, col: s - this.ls + 1, endLine: ln, endCol: e - this.ls + 1, severity, message: escapeInvisible(message) };
    if (hint !== undefined) d.hint = escapeInvisible(hint);
    if (fix !== undefined) d.fix = fix;
    this.diags.push(d);
    this.shown++;
    if (severity === 'error') this.shownErrors++;
    return false;
  }

  protected err(k: number, message: string, hint?: string, fix?: Fix): false {
    return this.diag('error', this.lx.start[k]!, this.lx.end[k]!, message, hint, fix);
  }

  protected warn(k: number, message: string, hint?: string, fix?: Fix): void {
    this.diag('warning', this.lx.start[k]!, this.lx.end[k]!, message, hint, fix);
  }

  /** A replacement of token k. */
  protected replace(k: number, newText: string, title = `Replace with \`${newText}\``): Fix {
    return { title, range: this.range(this.lx.start[k]!, this.lx.end[k]!), newText };
  }

  protected word(k: number): string {
    return this.text.slice(this.lx.start[k]!, this.lx.end[k]!);
  }

  /** Token k quoted for a message (long tokens cut, control characters named). */
  protected q(k: number): string {
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
  protected expected(k: number, what: string, after: string, hint?: string, fix?: Fix): false {
    if (k < this.n) return this.err(k, `expected ${what} after ${after}, found ${this.q(k)}`, hint, fix);
    if (this.lx.truncated) return this.tooManyTokens();
    return this.err(this.n - 1, `expected ${what} after ${after}`, hint, fix);
  }

  protected tooManyTokens(): false {
    const at = this.lx.overflowAt;
    return this.diag('error', at, at + 1, `too many words on one line (the limit is ${MAX_TOKENS})`);
  }

  protected numberError(k: number): false {
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
  protected needNum(k: number, what: string, after: string): boolean {
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
  protected needVa(k: number, after: string): boolean {
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
  protected needGpa(k: number, after: string, what = 'an address'): boolean {
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
  protected needValue(k: number, after: string): boolean {
    if (!this.needNum(k, 'a value', after)) return false;
    this.vlo = this.num.lo;
    this.vhi = this.num.hi;
    return true;
  }

  /** `= ` expected at token k. */
  protected needEq(k: number, after: string): boolean {
    if (k < this.n && this.lx.kind[k] === T_EQ) return true;
    const fix: Fix | undefined =
      k < this.n ? { title: 'Insert `=`', range: this.range(this.lx.start[k]!, this.lx.start[k]!), newText: '= ' } : undefined;
    return this.expected(k, '`=`', after, undefined, fix);
  }

  /** An optional level word `Ln` at token k: sets level; returns the next token, or -1 after an error. */
  protected optLevel(k: number): number {
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
  protected pteValue(k: number, after: string): number {
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
  protected tail(k: number, allow: number, kw: number): boolean {
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
  protected labelName(): string | undefined | false {
    if (this.tLabel < 0) return undefined;
    const k = this.tLabel;
    const name = this.text.slice(this.lx.start[k]! + 1, this.lx.end[k]!);
    const first = this.labelLines.get(name);
    if (first !== undefined) return this.err(k, `label \`${name}\` is already defined at line ${first}`);
    return name;
  }

  protected labelObj(name: string | undefined): Label | undefined {
    if (name === undefined) return undefined;
    const k = this.tLabel;
    return { name, range: this.range(this.lx.start[k]!, this.lx.end[k]!) };
  }

  /** Appends an event row (and registers its label). */
  protected row(op: OpCode, addr: number, arg: number, lo: number, hi: number, size: number, level: number, offset: number, flags: number, label: string | undefined): number {
    const t = this.program.events;
    const i = t.pushLoHi(op, this.ln, addr, arg, lo, hi, size, level, offset, flags);
    if (label !== undefined) {
      this.labelLines.set(label, this.ln);
      this.labelList.names.push(label);
      this.labelList.lines.push(this.ln);
      this.program.labels.set(label, i);
    }
    return i;
  }

  /** The statement's range: from its keyword to `end`. */
  protected stmtRange(end: number): Range {
    return this.range(this.lx.start[0]!, end);
  }

  protected kwRange(): Range {
    return this.range(this.lx.start[0]!, this.lx.end[0]!);
  }

  /** Adds the optional parts that tail() found to a statement object. */
  protected finish<T extends Stmt>(stmt: T, label: string | undefined, cpl: boolean): T {
    if (label !== undefined) stmt.label = this.labelObj(label);
    if (cpl && this.tCpl !== 0) (stmt as { cpl?: Cpl }).cpl = this.tCpl === 1 ? 'user' : 'kernel';
    return stmt;
  }

  protected tokRange(k: number): Range {
    return this.range(this.lx.start[k]!, this.lx.end[k]!);
  }


  protected cplFlags(): number {
    return this.tCpl === 1 ? EF_USER : this.tCpl === 2 ? EF_KERNEL : 0;
  }


  /** Checks that `size` bytes at addr (low 32 bits: lo) stay in one 4 KiB page. */
  protected crossCheck(k: number, lo: number, size: number, what: string): boolean {
    if ((lo & 0xfff) + size > KIB4) {
      return this.err(k, `the ${size}-byte ${what} at ${this.q(k)} crosses a 4 KiB page boundary`);
    }
    return true;
  }

  /** Checks that vlo/vhi fit in `size` bytes. */
  protected fitCheck(k: number, size: number): boolean {
    const ok = size === 8 || (this.vhi === 0 && (size === 4 || this.vlo < 2 ** (8 * size)));
    if (!ok) return this.err(k, `${this.q(k)} does not fit in ${plural(size, 'byte')} (size ${size})`);
    return true;
  }

}
