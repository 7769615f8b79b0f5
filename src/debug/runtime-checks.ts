// The debugger runtime, part 3 of 5: the checks at a point of the trace
// (line and label breakpoints before a row; exception filters, data and
// function breakpoints after it; failed expects), hit counts and log points,
// the stop they make, and the exception details in a KVM reader's words.

import { HOST_FRAME_OFFSET, PAGE_SIZE, describeErrorCode, spteFrame, type HandlerStep } from '../engine';
import { Op } from '../trace';
import { hitConditionHolds, renderLogMessage, type FilterId } from './breakpoints';
import { hx, rowText } from './format';
import { RuntimeBreakpoints } from './runtime-breakpoints';
import { EVENT_FILTERS, MAX_EXIT_LOG, PRIORITY, hitKind, type DataTarget, type ExceptionDetails, type Hit, type Point, type Position, type ScanResult, type StopInfo, type StopReason } from './runtime-types';

export abstract class RuntimeChecks extends RuntimeBreakpoints {
  protected stopResult(pos: Position, stop: StopInfo): ScanResult {
    return { kind: 'stop', pos, stop };
  }

  protected afterChecksWanted(): boolean {
    return this.filters.size > 0 || this.dataBps.length > 0 || this.functionBps.some((b) => b.match && b.verified);
  }

  /** Applies hit counts and log points to a point met (going forwards or backwards); a stop, or null. */
  protected decide(point: Point): ScanResult | null {
    const stopping: Hit[] = [];
    for (const h of point.hits) {
      if (h.bp) {
        if (!h.bp.verified) continue;
        if (h.condError === undefined) {
          h.bp.hits++;
          if (!hitConditionHolds(h.bp.hit, h.bp.hits)) continue;
        }
        if (h.log !== undefined && h.condError === undefined) {
          this.host.output('console', h.log + '\n', this.lineOfRow(point.row));
          continue;
        }
      }
      stopping.push(h);
    }
    if (!stopping.length) return null;
    return this.makeStop(point, stopping);
  }

  protected makeStop(point: Point, stopping: Hit[]): ScanResult {
    stopping.sort((a, b) => PRIORITY[hitKind(a)]! - PRIORITY[hitKind(b)]!);
    const main = stopping[0]!;
    const ids = stopping.filter((h) => h.bp).map((h) => h.bp!.id);
    const text = stopping.map((h) => (h.condError !== undefined ? `${h.text} (condition error: ${h.condError})` : h.text)).join('; ');
    const isBefore = (point.key & 1) === 0;
    let pos: Position = isBefore ? { kind: 'before', row: point.row, step: 0 } : { kind: 'after', row: point.row, step: 0 };
    let reason: StopReason;
    let exception: ExceptionDetails | undefined;
    switch (main.type) {
      case 'line':
        reason = main.bp?.kind === 'function' ? 'function breakpoint' : 'breakpoint';
        break;
      case 'function':
        reason = 'function breakpoint';
        if (main.step !== undefined && point.steps) {
          this.steps = point.steps.slice();
          this.stepsRow = point.row;
          pos = { kind: 'step', row: point.row, step: main.step };
        }
        break;
      case 'data':
        reason = 'data breakpoint';
        break;
      default:
        reason = 'exception';
        exception = point.exception;
    }
    return this.stopResult(pos, { reason, description: text, text, vcpu: point.vcpu, hitBreakpointIds: ids, exception });
  }

  protected logExit(row: number): void {
    if (this.exitLogCount >= MAX_EXIT_LOG) {
      this.exitLogSuppressed++;
      return;
    }
    this.exitLogCount++;
    this.host.output('stdout', `${this.exitLine(row)}\n`, this.lineOfRow(row));
  }

  /** One line about the exit of the event just run. */
  exitLine(row: number): string {
    const m = this.machine;
    const e = m.mmu.exit!;
    const head = `line ${this.lineOfRow(row)} vCPU ${m.current}: ${rowText(this.program, row)} → VM exit (${e.reason === 'cr3' ? 'CR3 load' : `page fault, ${e.outcome}`})`;
    if (e.outcome === 'inject') return `${head}: #PF ${describeErrorCode(m.mmu.fault)} injected`;
    if (e.outcome === 'emulate') {
      const s = m.mmu.store;
      return `${head}: store to a write-protected guest page table emulated${s ? ` at ${hx(s.gpa)}` : ''}, kvm_mmu_pte_write ran`;
    }
    return head;
  }

  // ---- the checks at a point

  /** Line and label breakpoints at `before row` (conditions evaluated in the state before it). */
  protected checkBefore(row: number): Point | null {
    const bps = this.beforeRows.get(row);
    if (!bps) return null;
    this.evalLine = this.lineOfRow(row);
    const hits: Hit[] = [];
    for (const bp of bps) {
      const c = this.condHolds(bp.condition);
      if (!c.ok) continue;
      const h: Hit = { type: 'line', bp, text: bp.kind === 'function' ? `Label @${bp.name.replace(/^@/, '')} (line ${this.lineOfRow(row)})` : `Breakpoint at line ${this.lineOfRow(row)}` };
      if (c.error !== undefined) h.condError = c.error;
      else if (bp.log) h.log = renderLogMessage(bp.log, this.machine.env);
      hits.push(h);
    }
    return hits.length ? { key: 2 * row, row, hits, vcpu: this.machine.current } : null;
  }

  /** What the event at `row` (just run) did that may stop: filters, data and function breakpoints. */
  protected checkAfter(row: number, steps: HandlerStep[] | null): Point | null {
    const m = this.machine;
    // Most events trip nothing: say so before building anything (this runs after every event of a continue).
    if (m.error === null && this.dataBps.length === 0 && !(steps && steps.length && this.functionBps.length) && !this.someFilterTripped(row)) return null;
    this.evalLine = this.lineOfRow(row);
    let hits: Hit[] | null = null;
    const add = (h: Hit): void => {
      (hits ??= []).push(h);
    };
    if (m.error !== null) add({ type: 'error', filter: 'replay-error', text: `Replay error: ${m.error}` });
    const f = this.filters;
    for (const id of EVENT_FILTERS) if (f.has(id) && this.filterTripped(id, row)) this.filterHit(id, add, () => this.filterText(id));
    for (const bp of this.dataBps) {
      if (!bp.verified) continue;
      const now = this.dataValue(bp.target);
      if (now === bp.last) continue;
      const was = bp.last;
      bp.last = now;
      const c = this.condHolds(bp.condition);
      if (!c.ok) continue;
      const h: Hit = { type: 'data', bp, text: `${bp.target.label} changed: ${hx(this.archValue(bp.target, was))} → ${hx(this.archValue(bp.target, now))}` };
      if (c.error !== undefined) h.condError = c.error;
      else if (bp.log) h.log = renderLogMessage(bp.log, m.env);
      add(h);
    }
    let point: Point | null = null;
    if (steps && steps.length) {
      for (const bp of this.functionBps) {
        if (!bp.match || !bp.verified) continue;
        const k = steps.findIndex((s) => bp.match!(s.fn));
        if (k < 0) continue;
        const c = this.condHolds(bp.condition);
        if (!c.ok) continue;
        const h: Hit = { type: 'function', bp, step: k, text: `${steps[k]!.fn}: ${steps[k]!.text}` };
        if (c.error !== undefined) h.condError = c.error;
        else if (bp.log) h.log = renderLogMessage(bp.log, m.env);
        add(h);
      }
    }
    if (hits) {
      point = { key: 2 * row + 1, row, hits, vcpu: m.current };
      if (steps && steps.length && (hits as Hit[]).some((h) => h.type === 'function')) point.steps = steps.slice();
      if ((hits as Hit[]).some((h) => h.type === 'filter' || h.type === 'error')) point.exception = this.exceptionFor(row, hits);
    }
    return point;
  }

  /** True when the event just run at `row` is what some enabled exception filter looks for (its condition aside). */
  protected someFilterTripped(row: number): boolean {
    const f = this.filters;
    if (f.size === 0) return false;
    for (const id of EVENT_FILTERS) if (f.has(id) && this.filterTripped(id, row)) return true;
    return false;
  }

  /** What each filter of an event looks for in the event just run at `row`. */
  protected filterTripped(id: (typeof EVENT_FILTERS)[number], row: number): boolean {
    const m = this.machine;
    const mmu = m.mmu;
    switch (id) {
      case 'livelock':
        return mmu.incidents.length !== 0;
      case 'audit':
        return m.newViolations.length !== 0;
      case 'guest-fault':
        return mmu.fault >= 0;
      case 'flood':
        return mmu.floodZapped;
      case 'pte-write':
        return this.isPteWrite(row);
      case 'vmexit':
        return mmu.exit !== null;
    }
  }

  /** A stop's description for a filter that tripped. */
  protected filterText(id: (typeof EVENT_FILTERS)[number]): string {
    const m = this.machine;
    const mmu = m.mmu;
    switch (id) {
      case 'livelock': {
        const inc = mmu.incidents.find((x) => x.kind === 'livelock') ?? mmu.incidents[0]!;
        return `${inc.kind === 'livelock' ? 'Livelock' : 'Hang'} in ${inc.fn}: ${inc.message}`;
      }
      case 'audit':
        return `Audit violation: ${m.newViolations[0]!.message}`;
      case 'guest-fault':
        return `#PF ${describeErrorCode(mmu.fault)} injected into the guest`;
      case 'flood':
        return 'Write flood: shadow page zapped';
      case 'pte-write':
        return `Guest page-table write${mmu.exit?.outcome === 'emulate' ? ' (trapped)' : ' (not trapped)'}`;
      case 'vmexit':
        return `VM exit: ${mmu.exit!.reason === 'cr3' ? 'CR3 load' : mmu.exit!.reason === 'npt' ? `nested page fault (npt, ${mmu.eventExits.length} exit${mmu.eventExits.length === 1 ? '' : 's'})` : `page fault (${mmu.exit!.outcome})`}`;
    }
  }

  protected filterHit(id: FilterId, add: (h: Hit) => void, text: () => string): void {
    const c = this.condHolds(this.filters.get(id)?.condition);
    if (!c.ok) return;
    const h: Hit = { type: 'filter', filter: id, text: text() };
    if (c.error !== undefined) h.condError = c.error;
    add(h);
  }

  protected checkExpect(row: number): Point | null {
    const m = this.machine;
    const e = m.expect!;
    this.evalLine = this.lineOfRow(row);
    const c = this.condHolds(this.filters.get('expect')?.condition);
    if (!c.ok) return null;
    const h: Hit = { type: 'filter', filter: 'expect', text: `expect failed: ${e.source} — ${e.message}` };
    if (c.error !== undefined) h.condError = c.error;
    const point: Point = { key: 2 * row + 1, row, hits: [h], vcpu: m.current };
    point.exception = {
      id: 'expect',
      description: `expect failed at line ${e.line}: ${e.source}`,
      details: `The expectation \`${e.source}\` on line ${e.line} does not hold after the previous event (${e.message}).`,
    };
    return point;
  }

  protected archValue(t: DataTarget, v: bigint): bigint {
    if (t.kind === 'guest') return v;
    const n = Number(v);
    return n >= 2 ** 52 ? BigInt(n - 2 ** 52) | (1n << 63n) : v;
  }

  /** True when the event at `row` stored into a guest page-table entry. */
  protected isPteWrite(row: number): boolean {
    const m = this.machine;
    const t = this.program.events;
    const op = t.opOf(row);
    if (m.error !== null) return false;
    if (op === Op.Pte) return true;
    if (op === Op.Store) {
      const s = m.mmu.store;
      return s !== null && (s.trapped || this.isPageTableFrame(Math.floor(s.gpa / PAGE_SIZE)));
    }
    if (op !== Op.Write) return false;
    const e = m.mmu.exit;
    if (e?.outcome === 'emulate') return true;
    if (m.access && !m.access.ok) return false;
    let gfn: number;
    if (e !== null) {
      const w = m.mmu.lastWalk;
      if (!w.ok) return false;
      gfn = w.gfn;
      // A user write to a shadowed frame unshadowed it (every shadow page of the frame zapped).
      if (m.shadow.zapped.some((p) => p.gfn === gfn && !p.role.metaphysical)) return true;
    } else {
      const spte = m.mmu.shadowLeaf(m.vcpu, t.addrOf(row));
      if (spte === 0) return false;
      gfn = spteFrame(spte) - HOST_FRAME_OFFSET;
    }
    return this.isPageTableFrame(gfn) || m.shadow.isShadowed(gfn);
  }

  /**
   * Frames known to hold guest page tables: the setup's page-table pool (the
   * run of frames the setup took from \`pool\`) and every space root, plus the
   * roots of \`cr3 GPA\` rows and the tables that level-2+ \`pte\` rows link in,
   * among the rows parsed so far (collected as they are parsed: runtime-load.ts).
   */
  protected isPageTableFrame(gfn: number): boolean {
    if (gfn >= this.poolStart && gfn < this.poolEnd) return true;
    return this.pageTableFrames.has(gfn);
  }

  /** exceptionInfo for the filters that fired at `row`, in a KVM reader's words. */
  protected exceptionFor(row: number, hits: Hit[]): ExceptionDetails {
    const sorted = hits.filter((h) => h.type === 'filter' || h.type === 'error').sort((a, b) => PRIORITY[hitKind(a)]! - PRIORITY[hitKind(b)]!);
    const main = sorted[0]!;
    const m = this.machine;
    const mmu = m.mmu;
    const ev = `line ${this.lineOfRow(row)} (${rowText(this.program, row)}) on vCPU ${m.current}`;
    let details: string;
    switch (main.filter) {
      case 'replay-error':
        details = `The event at ${ev} cannot be replayed: ${m.error}. It changed nothing.`;
        break;
      case 'livelock': {
        const exits = mmu.eventExits.map((x) => (x.outcome ? `${x.reason} (${x.outcome})` : x.reason)).join(', ');
        const parts = mmu.incidents.map((x) =>
          x.kind === 'livelock'
            ? `Livelock: KVM 2007 would loop forever in ${x.fn}: ${x.message}. The model counts it (livelocks), lets the access complete as the guest walk says, and leaves the shadow as the last exit left it.`
            : `Hang: KVM 2007's ${x.fn} would loop forever in the host: ${x.message}. The model stops that loop, counts it (hangs) and goes on.`,
        );
        details = `At ${ev}, ${mmu.eventExits.length} VM exit${mmu.eventExits.length === 1 ? '' : 's'} (${exits || 'none'}). ${parts.join(' ')}`;
        break;
      }
      case 'audit': {
        const v = m.newViolations[0]!;
        const checks: Record<number, string> = {
          1: 'check 1: a shadowed guest page table is mapped writable by a shadow pte, so a guest store to it would not be trapped',
          2: 'check 2: the reverse map (rmap) does not match the present leaf shadow ptes',
          3: 'check 3: a shadow pte grants what the guest walk on its path refuses, or maps the wrong frame',
        };
        details = `After ${ev} the audit (KVM's 2007 AUDIT code) found ${m.newViolations.length} new violation${m.newViolations.length === 1 ? '' : 's'}. ${checks[v.check]}: ${v.message} [${v.pageText}, index ${v.index}, spte ${hx(v.spte)}${v.gpte !== undefined ? `, gpte ${hx(v.gpte)}` : ''}].`;
        break;
      }
      case 'guest-fault': {
        const w = mmu.lastWalk;
        details = `At ${ev} the shadow had no usable translation, so the hardware exited to kvm (page fault). paging${m.mode.entrySize === 4 ? '32' : '64'}_walk_addr walked the guest page tables and faulted at L${w.level}${w.pteGpa[w.level]! >= 0 ? ` (entry at ${hx(w.pteGpa[w.level]!)} = ${hx(m.mode.entrySize === 8 ? (BigInt(w.pteHi[w.level]!) << 32n) | BigInt(w.pteLo[w.level]!) : BigInt(w.pteLo[w.level]!))})` : ''}: the fault is the guest's own, so inject_page_fault delivered #PF with error code ${describeErrorCode(mmu.fault)} to the guest. The shadow is unchanged; the guest's fault handler runs next.`;
        break;
      }
      case 'flood':
        details = `At ${ev} kvm_mmu_pte_write saw write number ${m.vcpu.lastPtWriteCount} in a row to guest frame ${hx(m.vcpu.lastPtWriteGfn)} (last_pt_write_count ≥ 3): the write-flood detector decided the page is probably no longer a page table and zapped its shadow page${m.shadow.zapped.length === 1 ? '' : 's'} (${m.shadow.zapped.map((p) => `#${p.uid}`).join(', ')}) with kvm_mmu_zap_page, so later stores to it no longer exit.`;
        break;
      case 'pte-write': {
        const s = mmu.store;
        const trapped = mmu.exit?.outcome === 'emulate' || (s?.trapped ?? false);
        details = trapped
          ? `At ${ev} the guest stored into a page-table entry${s ? ` at gpa ${hx(s.gpa)} (${s.size} bytes)` : ''}. Its frame is shadowed, hence write-protected: the store trapped (VM exit, page fault), kvm emulated it and kvm_mmu_pte_write fixed up the shadow (${m.last.zapped} spte${m.last.zapped === 1 ? '' : 's'} zapped, ${m.last.updated} updated under the \`${m.policy.name}\` policy).`
          : `At ${ev} the guest stored into a page-table entry${s ? ` at gpa ${hx(s.gpa)} (${s.size} bytes)` : ''}. Its frame is not shadowed, so it is not write-protected: the store went straight to guest memory with no VM exit, and no shadow pte can be stale because of it.`;
        break;
      }
      default: {
        const e = mmu.exit!;
        if (e.reason === 'npt') details = `At ${ev} the hardware's two-dimensional walk touched ${mmu.eventExits.length} guest-physical frame${mmu.eventExits.length === 1 ? '' : 's'} that the nested page table did not map yet: ${mmu.eventExits.length} VM exit${mmu.eventExits.length === 1 ? '' : 's'} (npt), each handled by tdp_page_fault and __direct_map mapping one frame; the guest retried after each.`;
        else if (e.reason === 'cr3') details = `At ${ev} the guest loaded CR3 (${hx(m.vcpu.cr3)}): VM exit, new_cr3 released the vCPU's shadow roots and loaded the roots for the new page tables (shadow pages persist across switches).`;
        else if (e.outcome === 'inject') details = `At ${ev} the access found no usable shadow pte: VM exit (page fault). The guest walk faulted, so kvm injected #PF ${describeErrorCode(mmu.fault)} into the guest.`;
        else if (e.outcome === 'emulate') details = `At ${ev} a kernel store hit a write-protected (shadowed) guest page table: VM exit (page fault), kvm emulated the store and kvm_mmu_pte_write ran (${m.last.zapped} spte${m.last.zapped === 1 ? '' : 's'} zapped, ${m.last.updated} updated).`;
        else details = `At ${ev} the access found no usable shadow pte: VM exit (page fault). The guest walk succeeded and FNAME(fetch) filled the shadow (${m.shadow.created.length} shadow page${m.shadow.created.length === 1 ? '' : 's'} created); the guest retries and completes without another exit.`;
      }
    }
    return { id: main.filter!, description: main.text, details };
  }

}
