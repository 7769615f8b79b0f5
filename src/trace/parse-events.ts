// The event statements of the trace language (language.md, "Events"): `read`,
// `write`, `exec`, `pte`, `store`, `cr3`, `invlpg`, `vcpu`, `cpl` and
// `expect`, by the general path (tokens). Each appends one row to the
// EventTable (and, when asked, a statement object). The fast path for the
// common lines is fastpath.ts; both give the same rows.

import { parseExpr } from '../expr';
import { EF_HAS_VALUE, Op, type AccessStmt, type Cpl, type Diagnostic, type ExpectStmt, type ExprNodeRef, type OpCode } from './ast';
import { didYouMean } from './hints';
import { T_DOTDOT, T_EQ, T_NUM, T_WORD, isWordCont, isWordStart, isWs } from './lexer';
import { toBigInt } from './numbers';
import { SetupParser } from './parse-setup';
import {
  A_CPL,
  A_LABEL,
  A_OFFSET,
  A_SIZE,
  KEYWORDS,
  K_CPL,
  K_CR3,
  K_INVLPG,
  K_PTE,
  K_READ,
  K_STORE,
  K_VCPU,
  K_WRITE,
  MAX_VCPUS,
  TAIL_BY_LEN,
  TAIL_WORDS,
  W_KERNEL,
  W_USER,
  matchWord,
  modeName,
} from './words';

export abstract class EventParser extends SetupParser {
  // Events ------------------------------------------------------------------

  protected access(op: OpCode, kw: number): void {
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

  protected write(): void {
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

  protected pte(): void {
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

  protected store(): void {
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

  protected cr3(): void {
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

  protected invlpg(): void {
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

  protected vcpu(): void {
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

  protected cpl(): void {
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

  protected expect(e: number): void {
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

}
