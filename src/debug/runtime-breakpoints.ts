// The debugger runtime, part 2 of 5: breakpoints (line, function and label,
// data, exception filters: compiled, placed on rows, kept across restarts)
// and expressions evaluated in the current state.

import { tryEvaluate, tryEvaluateCondition, type Expr, type Value } from '../expr';
import { spteToBigInt, type ShadowPage } from '../engine';
import { Op } from '../trace';
import { FILTERS, compileCondition, compileHitCondition, compileLogMessage, handlerMatcher } from './breakpoints';
import { RuntimeLoad } from './runtime-load';
import { parseDataId, type Bp, type BpBase, type BpSpec, type DataBp, type DataTarget, type FunctionBp, type LineBp } from './runtime-types';

export abstract class RuntimeBreakpoints extends RuntimeLoad {
  // ---------------------------------------------------------------------------
  // Breakpoints

  setLineBreakpoints(specs: BpSpec[]): LineBp[] {
    const old = new Map(this.lineBps.map((b) => [b.requestedLine, b]));
    this.lineBps = specs.map((s) => {
      const prev = old.get(s.line ?? 0);
      const bp: LineBp = { kind: 'line', id: prev?.id ?? this.nextBpId++, requestedLine: s.line ?? 0, line: s.line ?? 0, row: -1, pending: false, hits: 0, verified: false };
      this.compileCommon(bp, s);
      return bp;
    });
    if (this.loaded) this.reverifyLineBps(false);
    else for (const b of this.lineBps) if (!b.message) b.message = 'the trace is not loaded yet';
    this.rebuildBeforeRows();
    return this.lineBps;
  }

  protected compileCommon(bp: BpBase, s: BpSpec): void {
    const errors: string[] = [];
    if (s.condition !== undefined && s.condition.trim() !== '') {
      const c = compileCondition(s.condition);
      if (c.error) errors.push(c.error);
      else bp.condition = c.value;
    }
    if (s.hitCondition !== undefined && s.hitCondition.trim() !== '') {
      const c = compileHitCondition(s.hitCondition);
      if (c.error) errors.push(c.error);
      else bp.hit = c.value;
    }
    if (s.logMessage !== undefined) {
      const c = compileLogMessage(s.logMessage);
      if (c.error) errors.push(c.error);
      else bp.log = c.value;
    }
    if (errors.length) {
      bp.verified = false;
      bp.message = bp.compileError = errors.join('; ');
    } else bp.verified = true;
  }

  /** Places line breakpoints on event rows (moving them down to the next event line). */
  protected reverifyLineBps(notify: boolean): void {
    if (!this.loaded) return;
    const changed: LineBp[] = [];
    const t = this.program.events;
    for (const bp of this.lineBps) {
      const before = `${bp.verified}|${bp.line}|${bp.message}`;
      let row = this.rowAtOrAfterLine(bp.requestedLine);
      while (row < t.count && t.opOf(row) > Op.Invlpg) row++;
      if (row >= t.count && !this.parseDone) {
        bp.pending = true;
        bp.row = -1;
        bp.verified = false;
        bp.message = 'the trace is still loading';
      } else if (row >= t.count) {
        bp.pending = false;
        bp.row = -1;
        bp.verified = false;
        bp.message = `no event at or after line ${bp.requestedLine}`;
      } else {
        bp.pending = false;
        bp.row = row;
        bp.line = t.lineOf(row);
        if (bp.compileError !== undefined) {
          bp.verified = false;
          bp.message = bp.compileError;
        } else {
          bp.verified = true;
          bp.message = bp.line !== bp.requestedLine ? `line ${bp.requestedLine} is not an event: moved to the next event, line ${bp.line}` : undefined;
        }
      }
      if (notify && before !== `${bp.verified}|${bp.line}|${bp.message}`) changed.push(bp);
    }
    this.rebuildBeforeRows();
    if (changed.length) this.host.breakpointsChanged(changed);
  }

  setFunctionBreakpoints(specs: BpSpec[]): FunctionBp[] {
    const old = new Map(this.functionBps.map((b) => [b.name, b]));
    this.functionBps = specs.map((s) => {
      const name = (s.name ?? '').trim();
      const bp: FunctionBp = { kind: 'function', id: old.get(name)?.id ?? this.nextBpId++, name, hits: 0, verified: false };
      this.compileCommon(bp, s);
      const match = handlerMatcher(name);
      if (match) bp.match = match;
      else {
        const label = name.startsWith('@') ? name.slice(1) : name;
        const row = this.loaded ? this.program.labels.get(label) : undefined;
        if (row !== undefined) bp.labelRow = row;
        else {
          bp.verified = false;
          bp.message = `\`${name}\` is neither a handler step (${['page_fault', 'walk_addr', 'fetch', 'kvm_mmu_get_page', 'rmap_write_protect', 'kvm_mmu_pte_write', 'mmu_pte_write_zap_pte', 'mmu_pte_write_new_pte', 'kvm_mmu_zap_page', 'inject_page_fault', 'new_cr3', 'kvm_mmu_free_some_pages'].join(', ')}, with or without a prefix such as paging64_) nor a label of the trace`;
        }
      }
      return bp;
    });
    this.rebuildBeforeRows();
    return this.functionBps;
  }

  setExceptionFilters(filters: { id: string; condition?: string }[]): { verified: boolean; message?: string }[] {
    this.filters.clear();
    return filters.map((f) => {
      const info = FILTERS.find((x) => x.id === f.id);
      if (!info) return { verified: false, message: `unknown exception filter \`${f.id}\`` };
      if (f.condition !== undefined && f.condition.trim() !== '') {
        const c = compileCondition(f.condition);
        if (c.error) return { verified: false, message: c.error };
        this.filters.set(info.id, { condition: c.value });
      } else this.filters.set(info.id, {});
      return { verified: true };
    });
  }

  setDataBreakpoints(specs: BpSpec[]): DataBp[] {
    const old = new Map(this.dataBps.map((b) => [b.dataId, b]));
    this.dataBps = specs.map((s) => {
      const dataId = s.dataId ?? '';
      const target = parseDataId(dataId);
      const bp: DataBp = {
        kind: 'data',
        id: old.get(dataId)?.id ?? this.nextBpId++,
        dataId,
        target: target ?? { kind: 'guest', gpa: 0, size: 0, label: '?' },
        last: 0n,
        hits: 0,
        verified: false,
      };
      this.compileCommon(bp, s);
      if (!target) {
        bp.verified = false;
        bp.message = `\`${dataId}\` names no guest or shadow entry`;
      } else if (this.loaded) bp.last = this.dataValue(bp.target);
      return bp;
    });
    return this.dataBps;
  }

  /** The current value of a data breakpoint's entry (0 for a shadow page that does not exist). */
  dataValue(t: DataTarget): bigint {
    const m = this.machine;
    if (t.kind === 'guest') return t.size ? m.mem.read(t.gpa, t.size) : 0n;
    const page = this.pageByUid(t.uid);
    return page ? spteToBigInt(page.entry(t.index)) : 0n;
  }

  /** A live shadow page by uid. */
  pageByUid(uid: number): ShadowPage | undefined {
    return this.machine.shadow.pageByUid(uid);
  }

  protected rebuildBeforeRows(): void {
    const m = new Map<number, Bp[]>();
    const add = (row: number, bp: Bp): void => {
      const l = m.get(row);
      if (l) l.push(bp);
      else m.set(row, [bp]);
    };
    for (const b of this.lineBps) if (b.verified && b.row >= 0) add(b.row, b);
    for (const b of this.functionBps) if (b.verified && b.labelRow !== undefined) add(b.labelRow, b);
    this.beforeRows = m;
  }

  // ---------------------------------------------------------------------------
  // Expressions

  protected exitValue(): Value {
    const m = this.machine;
    const e = m.mmu.exit;
    return { reason: e ? e.reason : 'none', outcome: e?.outcome ?? 'none', count: BigInt(m.last.exits) };
  }

  /** Evaluates in the current stop's state. */
  evaluate(expr: Expr): { ok: true; value: Value } | { ok: false; message: string } {
    this.evalLine = this.currentLine;
    const r = tryEvaluate(expr, this.machine.env);
    return r.ok ? r : { ok: false, message: r.message };
  }

  protected condHolds(expr: Expr | undefined): { ok: boolean; error?: string } {
    if (!expr) return { ok: true };
    const r = tryEvaluateCondition(expr, this.machine.env);
    if (!r.ok) return { ok: true, error: r.message };
    return { ok: r.value };
  }

}
