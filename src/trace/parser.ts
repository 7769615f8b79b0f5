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


import { entrySize, type Diagnostic, type MapStmt, type ParseOptions, type ParseResult, type PokeStmt, type Program, type SpaceDecl, type SpaceStmt } from './ast';
import type { ParserState } from './state';
import { FastParser } from './fastpath';
import { T_WORD } from './lexer';
import { NUM_BAD_DIGIT, NUM_NO_DIGITS, NUM_OVERFLOW } from './numbers';
import { didYouMean } from './hints';
import {
  EVENT_KEYWORDS,
  KEYWORDS,
  KW_BY_LEN,
  K_CPL,
  K_CR3,
  K_EXEC,
  K_EXPECT,
  K_INVLPG,
  K_MAP,
  K_MODE,
  K_POKE,
  K_POLICY,
  K_POOL,
  K_PTE,
  K_READ,
  K_SHADOW,
  K_SPACE,
  K_STORE,
  K_VCPU,
  K_VCPUS,
  K_WRITE,
  MAX_LINE_LENGTH,
  SETUP_KEYWORDS,
  matchWord,
} from './words';
import { isWs } from './lexer';
import { Op } from './ast';

export {
  DEFAULT_MAX_DIAGNOSTICS,
  DEFAULT_POOL,
  DEFAULT_SHADOW_PAGES,
  EVENT_KEYWORDS,
  KEYWORDS,
  MAX_LINE_LENGTH,
  MAX_MAP_PAGES,
  MAX_SHADOW_PAGES,
  MAX_VCPUS,
  PTE_FLAGS,
  SETUP_KEYWORDS,
} from './words';

export class TraceParser extends FastParser {
  /**
   * Whether parsers made from now on try the fast path for the common event
   * lines (fastLine) before the general one. Only the tests turn it off, to
   * check that both paths agree.
   */
  static fastPath = true;

  /** The fast path may be tried at all (each text then decides: not one with a lone CR). */
  private readonly fastOk: boolean;
  /** Streaming: the first lone CR of the input has been passed (it alone is reported). */
  private loneCrSeen = false;
  /** Streaming: rows taken by the consumer before the current table (the global index of its row 0). */
  private rowBase = 0;
  /** Streaming: the input has ended (endInput). */
  private inputEnded = false;

  constructor(text: string, opts?: ParseOptions) {
    super(text, opts);
    this.fastOk = !this.keep && TraceParser.fastPath;
    this.loneCr = firstLoneCr(this.text);
    this.fast = this.fastOk && this.loneCr < 0;
    this.pos = this.text.charCodeAt(0) === 0xfeff ? 1 : 0;
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
        severity: this.errors > this.shownErrors ? 'error' : 'warning',
        message: `${this.suppressed} more diagnostic${this.suppressed === 1 ? '' : 's'} not shown`,
      });
    }
    const r: ParseResult = { program, diagnostics, hasErrors: this.errors > 0 };
    if (this.keep) r.statements = this.stmts.slice();
    return r;
  }


  // -------------------------------------------------------------------------
  // Streaming (stream.ts drives these; the whole-text parser never calls them).

  /**
   * Makes `text` the text to parse next: whole lines, each ending in `\n`
   * except the input's last. Lines keep their numbers across texts; the
   * first lone CR of the whole input is reported wherever it falls.
   */
  beginText(text: string): void {
    this.text = text;
    this.pos = 0;
    this.finished = text.length === 0;
    if (this.loneCr >= 0) this.loneCrSeen = true; // in the text before
    this.loneCr = this.loneCrSeen ? -1 : firstLoneCr(text);
    this.fast = this.fastOk && this.loneCr < 0;
  }

  /**
   * A line the reader did not keep because it is longer than MAX_LINE_LENGTH:
   * `len` characters without its line end, its first character that is not
   * whitespace at `first` (-1 when there is none) being `firstChar`. The
   * same diagnostic as parseLine gives for it.
   */
  skipLongLine(len: number, first: number, firstChar: number): void {
    this.ls = 0;
    this.ln = ++this.lines;
    if (first < 0 || firstChar === 35) return;
    this.diag('error', first, len, `this line has ${len} characters: the limit is ${MAX_LINE_LENGTH}`);
  }

  /** The reader met a lone CR in a line it did not keep: later ones are not reported. */
  noteLoneCr(): void {
    this.loneCrSeen = true;
  }

  /** Whether the first lone CR of the input has been passed. */
  get loneCrPassed(): boolean {
    return this.loneCrSeen || (this.loneCr >= 0 && this.loneCr < this.pos);
  }

  /** Offset in the current text of the next line to parse. */
  get offset(): number {
    return this.pos;
  }

  /** The input is complete: the last text given was its end. */
  endInput(): void {
    this.finished = true;
    this.inputEnded = true;
    this.total = this.lines;
  }

  /** The first line with an error (0: none so far). */
  get errorLine(): number {
    return this.firstErrorLine;
  }

  get errorCount(): number {
    return this.errors;
  }

  /** The setup is complete: an event line has been parsed (or the input ended). */
  get setupDone(): boolean {
    return !this.inSetup || this.inputEnded;
  }

  /** The program being built: its setup, and the rows not yet taken. */
  get programSoFar(): Program {
    return this.program;
  }

  /** The global index of the current table's row 0. */
  get firstRow(): number {
    return this.rowBase;
  }

  /** Empties the table, the batch's labels and expects (the consumer has taken them). */
  dropRows(): void {
    const p = this.program;
    this.rowBase += p.events.count;
    p.events.clear();
    if (p.labels.size) p.labels = new Map();
    if (p.expects.length) p.expects = [];
  }

  /** The diagnostics found since the last call (at most the cap in all). */
  takeDiagnostics(): Diagnostic[] {
    const d = this.diags;
    if (d.length) this.diags = [];
    return d;
  }

  /** The last diagnostic, "N more diagnostics not shown", when the cap was reached. */
  suppressedDiagnostic(): Diagnostic | undefined {
    if (this.suppressed === 0 || !this.suppressedAt) return undefined;
    return {
      ...this.suppressedAt,
      severity: this.errors > this.shownErrors ? 'error' : 'warning',
      message: `${this.suppressed} more diagnostic${this.suppressed === 1 ? '' : 's'} not shown`,
    };
  }

  /** The state after the last line parsed: what a parser resumed there needs (see ParserState). */
  saveState(byteOffset: number): ParserState {
    const p = this.program;
    return {
      line: this.lines,
      byteOffset,
      row: this.rowBase + p.events.count,
      loneCrSeen: this.loneCrPassed,
      mode: this.mode,
      inSetup: this.inSetup,
      firstEventLine: this.firstEventLine,
      lines: [this.modeLine, this.policyLine, this.vcpusLine, this.poolLine, this.shadowLine, this.cplLine, this.modeBlockLine],
      modeBlockKw: this.modeBlockKw,
      curSpace: this.curSpace,
      setup: {
        mode: p.mode,
        policy: p.policy,
        policyLine: p.policyLine,
        vcpus: p.vcpus,
        cpl: p.cpl,
        pool: p.pool,
        shadowPages: p.shadowPages,
        // Shared, not copied (a state every N lines of a long setup would copy it N times over): the lists
        // are append-only, and a parser resumed here takes the first counts of them.
        spaces: p.spaces,
        setup: p.setup,
        spaceCount: p.spaces.length,
        setupCount: p.setup.length,
      },
      labels: this.labelList,
      labelCount: this.labelList.names.length,
      diagnostics: { shown: this.shown, shownErrors: this.shownErrors, errors: this.errors, firstErrorLine: this.firstErrorLine, suppressed: this.suppressed, suppressedAt: this.suppressedAt },
    };
  }

  /** Puts a new parser in the state `s` (saved by saveState): it goes on with line s.line + 1. */
  restoreState(s: ParserState): void {
    this.lines = s.line;
    this.rowBase = s.row;
    this.loneCrSeen = s.loneCrSeen;
    this.mode = s.mode;
    this.esize = entrySize(s.mode);
    this.inSetup = s.inSetup;
    this.firstEventLine = s.firstEventLine;
    [this.modeLine, this.policyLine, this.vcpusLine, this.poolLine, this.shadowLine, this.cplLine, this.modeBlockLine] = s.lines;
    this.modeBlockKw = s.modeBlockKw;
    this.curSpace = s.curSpace;
    const p = this.program;
    const u = s.setup;
    p.mode = u.mode;
    if (u.policy !== undefined) p.policy = u.policy;
    if (u.policyLine !== undefined) p.policyLine = u.policyLine;
    p.vcpus = u.vcpus;
    p.cpl = u.cpl;
    p.pool = u.pool;
    p.shadowPages = u.shadowPages;
    // After the setup nothing is appended to them: shared as they are (a window of a huge trace parsed
    // again does not copy a long setup).
    const whole = !s.inSetup && u.spaces.length === u.spaceCount && u.setup.length === u.setupCount;
    p.spaces = whole ? (u.spaces as SpaceDecl[]) : u.spaces.slice(0, u.spaceCount);
    p.setup = whole ? (u.setup as (SpaceStmt | MapStmt | PokeStmt)[]) : u.setup.slice(0, u.setupCount);
    this.spaceIndex.clear();
    p.spaces.forEach((sp, i) => this.spaceIndex.set(sp.name, i));
    // The shared list may have grown past the saved count: copy what was there then.
    const names = s.labels.names.slice(0, s.labelCount);
    const lines = s.labels.lines.slice(0, s.labelCount);
    this.labelList = { names, lines };
    this.labelLines.clear();
    for (let i = 0; i < names.length; i++) this.labelLines.set(names[i]!, lines[i]!);
    const d = s.diagnostics;
    this.shown = d.shown;
    this.shownErrors = d.shownErrors;
    this.errors = d.errors;
    this.firstErrorLine = d.firstErrorLine;
    this.suppressed = d.suppressed;
    this.suppressedAt = d.suppressedAt;
  }

  // -------------------------------------------------------------------------
  // Lines.

  protected parseLine(s: number, e: number): void {
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
