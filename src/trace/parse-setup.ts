// The setup directives of the trace language (language.md, "Setup"): `mode`,
// `policy`, `vcpus`, `pool`, `shadow-pages`, `space`, `map` and `poke` (`cpl`
// is in parse-events.ts: it is both), and the error for a setup directive
// after the first event. Each fills the Program's setup fields; none makes an
// event row.

import { entrySize, type MapStmt, type Mode, type PokeStmt, type SpaceStmt } from './ast';
import { didYouMean } from './hints';
import { T_DOTDOT, T_WORD } from './lexer';
import { toBigInt } from './numbers';
import { ParserCore } from './parse-core';
import {
  A_SIZE,
  KEYWORDS,
  KNOWN_POLICIES,
  K_MAP,
  K_MODE,
  K_POKE,
  K_POLICY,
  K_POOL,
  K_SHADOW,
  K_SPACE,
  K_VCPUS,
  MAX_MAP_PAGES,
  MAX_SHADOW_PAGES,
  MAX_VCPUS,
  TWO32,
  levelPageSize,
  modeName,
  sizeName,
} from './words';

export abstract class SetupParser extends ParserCore {
  /** A setup directive after the first event. */
  protected lateSetup(kw: number): void {
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


  // Setup -------------------------------------------------------------------

  /** Error for a directive that may appear once. */
  protected once(firstLine: number, name: string): boolean {
    if (firstLine === 0) return true;
    return this.err(0, `\`${name}\` given twice (first at line ${firstLine})`);
  }

  protected blockMode(kw: string): void {
    if (this.modeBlockLine === 0) {
      this.modeBlockLine = this.ln;
      this.modeBlockKw = kw;
    }
  }

  protected modeDirective(): void {
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

  protected policy(): void {
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

  protected vcpus(): void {
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

  protected pool(): void {
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

  protected shadowPages(): void {
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

  protected space(): void {
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

  protected map(): void {
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

  protected poke(): void {
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
