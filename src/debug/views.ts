// What a stop shows: the scopes and their variables, as a tree of plain
// nodes that session.ts turns into DAP variables. Nothing is computed until a
// client asks for a node's children; large collections are paged.
//
// memoryReference follows pointer semantics: a guest entry's reference is the
// guest-physical page it points to (a table, or the mapped page), so that the
// client's hex view opens the page table below it; a non-leaf shadow entry
// points to a shadow page (`s#UID`), which readMemory also serves.

import {
  ACC_EXEC,
  ACC_READ,
  ACC_WRITE,
  GuestWalk,
  HOST_FRAME_OFFSET,
  PAGE_SIZE,
  PT_PRESENT,
  SHADOW_FRAME_BASE,
  TdpMmu,
  accessNames,
  WALK_CHECK_PERMS,
  describeErrorCode,
  describeRole,
  displayVa,
  entryFrame,
  shadowIndex,
  spteFrame,
  spteToBigInt,
  walkAddr,
  type ShadowPage,
  type VCpu,
} from '../engine';
import { EF_KERNEL, EF_USER, Op } from '../trace';
import { entryValue, guestEntryText, guestFlags, hx, isGuestLeaf, rowText, shadowEntryText, shadowFlagNames } from './format';
import { guestDataId, shadowDataId, type DataTarget, type TraceRuntime } from './runtime';

export interface VarNode {
  name: string;
  value: string;
  type?: string;
  evaluateName?: string;
  memoryReference?: string;
  /** The entry this variable shows, for data breakpoints. */
  data?: DataTarget & { dataId: string };
  /** Named children, computed when asked. */
  named?: () => VarNode[];
  /** Indexed children, paged. */
  indexed?: {
    count: number;
    get: (start: number, count: number) => VarNode[];
    /** The index of the child called `name` (-1: none), when the node can tell without making the children. */
    indexOf?: (name: string) => number;
  };
}

export interface ScopeNode {
  name: string;
  node: VarNode;
  expensive: boolean;
  hint?: 'arguments' | 'locals' | 'registers';
}

/** Per-stop caches (a new ViewContext after every resume). */
export class ViewContext {
  private changedShadow: Map<string, number> | null = null;
  private pageList: ShadowPage[] | null = null;

  constructor(readonly rt: TraceRuntime) {}

  get m() {
    return this.rt.machine;
  }

  /** Shadow entries the last event wrote: `uid:index` → the value before. */
  shadowChanges(): Map<string, number> {
    if (!this.changedShadow) {
      const map = new Map<string, number>();
      for (const c of this.m.shadow.changes) {
        const k = `${c.page.uid}:${c.index}`;
        if (!map.has(k)) map.set(k, c.old);
      }
      for (const [k, old] of map) {
        const [uid, index] = k.split(':').map(Number) as [number, number];
        const p = this.rt.pageByUid(uid);
        if (p && p.entry(index) === old) map.delete(k);
      }
      this.changedShadow = map;
    }
    return this.changedShadow;
  }

  pages(): ShadowPage[] {
    return (this.pageList ??= this.m.shadow.pages());
  }
}

function leaf(name: string, value: string, extra: Partial<VarNode> = {}): VarNode {
  return { name, value, ...extra };
}

function group(name: string, value: string, named: () => VarNode[], extra: Partial<VarNode> = {}): VarNode {
  return { name, value, named, ...extra };
}

function paged(
  name: string,
  value: string,
  count: number,
  get: (start: number, count: number) => VarNode[],
  extra: Partial<VarNode> = {},
  indexOf?: (name: string) => number,
): VarNode {
  return { name, value, indexed: indexOf ? { count, get, indexOf } : { count, get }, ...extra };
}

/** The rows a stop is about: the event it stands at or after, and the last event that ran. */
function rowsOf(rt: TraceRuntime): { current: number; done: boolean; last: number } {
  const p = rt.position;
  const last = rt.timeline.lastEventRow;
  if (p.kind === 'end') return { current: -1, done: true, last };
  if (p.kind === 'before') return { current: p.row, done: false, last };
  return { current: p.row, done: true, last };
}

/** The VA an event is about (access, pte, invlpg), or undefined. */
function eventVa(rt: TraceRuntime, row: number): number | undefined {
  if (row < 0) return undefined;
  const op = rt.program.events.opOf(row);
  if (op === Op.Read || op === Op.Write || op === Op.Exec || op === Op.Pte || op === Op.Invlpg) return rt.program.events.addrOf(row);
  return undefined;
}

export function buildScopes(ctx: ViewContext, vcpuIndex: number): ScopeNode[] {
  const rt = ctx.rt;
  const m = rt.machine;
  const vcpu = m.mmu.vcpus[vcpuIndex] ?? m.vcpu;
  const { current, last } = rowsOf(rt);
  const focus = current >= 0 && eventVa(rt, current) !== undefined ? current : eventVa(rt, last) !== undefined ? last : -1;
  const va = focus >= 0 ? eventVa(rt, focus) : undefined;
  const out: ScopeNode[] = [
    { name: 'Event', node: eventScope(ctx), expensive: false, hint: 'locals' },
    { name: `vCPU ${vcpu.id}`, node: vcpuScope(ctx, vcpu), expensive: false, hint: 'registers' },
  ];
  const vaText = va === undefined ? '' : ` of ${hx(displayVa(va, rt.program.mode))}`;
  out.push({ name: `Guest walk${vaText}`, node: guestWalkScope(ctx, vcpu, focus), expensive: false });
  if (m.mmu instanceof TdpMmu) out.push({ name: `Nested walk${vaText}`, node: nestedWalkScope(ctx, m.mmu, vcpu, va), expensive: false });
  else out.push({ name: `Shadow walk${vaText}`, node: shadowWalkScope(ctx, vcpu, va), expensive: false });
  out.push({ name: `Guest page tables (CR3 ${hx(vcpu.cr3)})`, node: guestTablesScope(ctx, vcpu), expensive: false });
  out.push({ name: `${m.mmu instanceof TdpMmu ? 'Nested pages' : 'Shadow pages'} (${m.shadow.alive})`, node: shadowPagesScope(ctx), expensive: false });
  out.push({ name: 'Exit counters', node: countersScope(ctx), expensive: false });
  return out;
}

// ---------------------------------------------------------------------------
// Event

function eventScope(ctx: ViewContext): VarNode {
  const rt = ctx.rt;
  return group('Event', '', () => {
    const m = rt.machine;
    const mmu = m.mmu;
    const t = rt.program.events;
    const { current, done, last } = rowsOf(rt);
    const out: VarNode[] = [];
    if (current >= 0) {
      out.push(leaf('line', String(t.lineOf(current)), { type: 'line' }));
      out.push(leaf('event', `${rowText(rt.program, current)}${done ? (rt.isEventRow(current) ? '  (done)' : '') : '  (next to run)'}`));
    } else out.push(leaf('event', 'end of the trace'));
    out.push(leaf('vcpu', String(m.current)));
    if (rt.position.kind === 'after' && t.opOf(current) === Op.Expect && m.expect) {
      out.push(leaf('expect', `${m.expect.passed ? 'held' : 'FAILED'}: ${m.expect.source}${m.expect.passed ? '' : ` — ${m.expect.message}`}`));
    }
    if (last < 0) {
      out.push(leaf('last event', 'none yet'));
      return out;
    }
    if (last !== current) out.push(leaf('last event', `line ${t.lineOf(last)}: ${rowText(rt.program, last)}`));
    const what = last === current ? '' : ' (last event)';
    const e = mmu.exit;
    out.push(leaf(`exit${what}`, e ? (e.reason === 'cr3' ? 'CR3 load' : e.reason === 'npt' ? `nested page fault (npt) → ${e.outcome}${m.last.exits > 1 ? ` (${m.last.exits} exits)` : ''}` : `page fault → ${e.outcome}${m.last.exits > 1 ? ` (${m.last.exits} exits)` : ''}`) : 'none', { evaluateName: 'exit' }));
    out.push(leaf(`fault injected${what}`, mmu.fault >= 0 ? `#PF ${describeErrorCode(mmu.fault)}` : 'none'));
    if (mmu.store) out.push(leaf(`store${what}`, `${hx(mmu.store.gpa)}, ${mmu.store.size} byte${mmu.store.size === 1 ? '' : 's'}, ${mmu.store.trapped ? 'trapped (frame shadowed): kvm_mmu_pte_write ran' : 'not trapped'}`));
    if (m.error) out.push(leaf('error', m.error));
    out.push(leaf(`shadow ptes zapped${what}`, String(m.last.zapped)));
    out.push(leaf(`shadow ptes updated${what}`, String(m.last.updated)));
    const created = m.shadow.created;
    if (created.length) out.push(leaf(`shadow pages created${what}`, created.map((p) => `#${p.uid} (gfn ${hx(p.gfn)}, L${p.level})`).join(', ')));
    const zapped = m.shadow.zapped;
    if (zapped.length) out.push(leaf(`shadow pages zapped${what}`, zapped.map((p) => `#${p.uid} (gfn ${hx(p.gfn)}, L${p.level})`).join(', ')));
    if (mmu.floodZapped) out.push(leaf(`write flood${what}`, `last_pt_write_count ${m.vcpu.lastPtWriteCount} on gfn ${hx(m.vcpu.lastPtWriteGfn)}`));
    const changes = [...ctx.shadowChanges()];
    out.push(
      paged(`shadow entries changed${what}`, `${changes.length}`, changes.length, (start, count) =>
        changes.slice(start, start + count).map(([k, old]) => {
          const [uid, index] = k.split(':').map(Number) as [number, number];
          const page = rt.pageByUid(uid);
          const now = page ? page.entry(index) : 0;
          return shadowEntryNode(ctx, `#${uid} [${index}]`, page, uid, index, now, old, page ? `${hx(spteToBigInt(old))} → ${shadowEntryText(now, page.level, page.child(index)?.uid)}` : 'page freed');
        }),
      ),
    );
    const stores = rt.timeline.lastEventStores();
    out.push(
      paged(`guest memory stores${what}`, `${stores.length}`, stores.length, (start, count) =>
        stores.slice(start, start + count).map((s, i) => {
          const old = s.size > 4 ? (BigInt(s.hi) << 32n) | BigInt(s.lo) : BigInt(s.lo) & ((1n << BigInt(8 * s.size)) - 1n);
          const now = m.mem.read(s.gpa, s.size);
          return leaf(`[${start + i}] ${hx(s.gpa)}`, `${s.size} byte${s.size === 1 ? '' : 's'}: ${hx(old)} → ${hx(now)}`, { memoryReference: hx(s.gpa - (s.gpa % PAGE_SIZE)) });
        }),
      ),
    );
    const viol = m.auditor ? m.auditor.violations.filter((v) => v.event === last) : [];
    if (m.auditor) {
      out.push(
        group(`audit${what}`, viol.length ? `${viol.length} new violation${viol.length === 1 ? '' : 's'}` : 'clean', () =>
          viol.map((v, i) => leaf(`[${i}] check ${v.check}`, `${v.message} [${v.pageText} index ${v.index}, spte ${hx(v.spte)}${v.gpte !== undefined ? `, gpte ${hx(v.gpte)}` : ''}]`)),
        ),
      );
    }
    return out;
  });
}

// ---------------------------------------------------------------------------
// vCPU

function vcpuScope(ctx: ViewContext, v: VCpu): VarNode {
  const rt = ctx.rt;
  return group(`vCPU ${v.id}`, '', () => {
    const m = rt.machine;
    const mode = m.mode;
    const out: VarNode[] = [
      leaf('cr3', hx(v.cr3), { evaluateName: v.id === m.current ? 'cr3' : undefined, memoryReference: hx(v.cr3), type: 'register' }),
      leaf('privilege', v.user ? 'user (cpl 3)' : 'kernel (cpl 0)'),
      leaf('exits', String(rt.timeline.vcpuExits[v.id] ?? 0)),
      leaf('last_pt_write_gfn', v.lastPtWriteGfn < 0 ? 'none' : hx(v.lastPtWriteGfn)),
      leaf('last_pt_write_count', String(v.lastPtWriteCount)),
    ];
    if (mode.shadowLevels === 4) {
      out.push(leaf('shadow root', v.root ? `#${v.root.uid} (gfn ${hx(v.root.gfn)}, level 4)` : 'none', v.root ? { memoryReference: `s#${v.root.uid}` } : {}));
    } else {
      out.push(
        group('pae_root', '4 entries', () =>
          v.paeRoot.map((p, i) => leaf(`[${i}]`, p ? `→ shadow page #${p.uid} (gfn ${hx(p.gfn)}, level 2)` : 'not present', p ? { memoryReference: `s#${p.uid}` } : {})),
        ),
      );
    }
    if (mode.name === 'pae') {
      out.push(
        group('pdptes', 'loaded at the last CR3 load', () =>
          [0, 1, 2, 3].map((i) => leaf(`[${i}]`, guestEntryText(mode, 3, v.pdpteLo[i]!, v.pdpteHi[i]!, true))),
        ),
      );
    }
    return out;
  });
}

// ---------------------------------------------------------------------------
// Guest walk

/** The access kind and privilege of an event row (a non-access row reads as a kernel read). */
export function accessOf(rt: TraceRuntime, row: number, v: VCpu): { kind: 0 | 1 | 2; user: boolean; what: string } {
  const t = rt.program.events;
  const op = t.opOf(row);
  const f = t.flagsOf(row);
  const user = op === Op.Read || op === Op.Write || op === Op.Exec ? (f & EF_USER ? true : f & EF_KERNEL ? false : v.user) : false;
  const kind = op === Op.Write ? ACC_WRITE : op === Op.Exec ? ACC_EXEC : ACC_READ;
  const what = op === Op.Read || op === Op.Write || op === Op.Exec ? `${op === Op.Write ? 'write' : op === Op.Exec ? 'fetch' : 'read'} by ${user ? 'user' : 'kernel'}` : 'read by kernel';
  return { kind, user, what };
}

function guestWalkScope(ctx: ViewContext, v: VCpu, row: number): VarNode {
  const rt = ctx.rt;
  return group('Guest walk', '', () => {
    const m = rt.machine;
    const mode = m.mode;
    if (row < 0) {
      const t = rt.program.events;
      const { current } = rowsOf(rt);
      if (current >= 0 && t.opOf(current) === Op.Store) return [leaf('walk', `a store to guest-physical ${hx(t.addrOf(current))}: no guest walk`)];
      return [leaf('walk', 'this event has no guest virtual address')];
    }
    const va = rt.program.events.addrOf(row);
    const acc = accessOf(rt, row, v);
    const w = new GuestWalk();
    const ok = walkAddr(m.mem, mode, v, va, acc.kind, acc.user, WALK_CHECK_PERMS, w);
    const out: VarNode[] = [];
    const dva = displayVa(va, rt.program.mode);
    for (let level = w.top; level >= w.level; level--) {
      const gpa = w.pteGpa[level]!;
      const lo = w.pteLo[level]!;
      const hi = w.pteHi[level]!;
      const reg = gpa < 0;
      const index = mode.index(va, level);
      out.push(guestEntryNode(ctx, `L${level} [${index}]${reg ? ' PDPTE register' : ''}`, level, reg ? -1 : gpa, lo, hi, `gpte(${hx(dva)}, ${level})`, reg));
    }
    out.push(leaf('result', ok ? `gpa ${hx(w.gpa)} (${acc.what} allowed)` : `#PF ${describeErrorCode(w.errorCode)} at L${w.level} for a ${acc.what}`, { evaluateName: `gpa(${hx(dva)})` }));
    return out;
  });
}

/** A guest entry (at `gpa`, or a PAE PDPTE register when gpa < 0) with its details. */
function guestEntryNode(ctx: ViewContext, name: string, level: number, gpa: number, lo: number, hi: number, evaluateName: string | undefined, pdpte = false): VarNode {
  const m = ctx.m;
  const mode = m.mode;
  const size = mode.entrySize;
  const was = gpa >= 0 ? ctx.rt.timeline.valueBeforeLastEvent(gpa, size) : undefined;
  const text = guestEntryText(mode, level, lo, hi, pdpte) + (was !== undefined ? `  [changed by the last event, was ${hx(was)}]` : '');
  const present = (lo & PT_PRESENT) !== 0;
  const node: VarNode = {
    name,
    value: text,
    type: pdpte ? 'PDPTE' : `guest L${level} entry`,
    evaluateName,
  };
  if (present) node.memoryReference = hx(entryFrame(mode, lo, hi) * PAGE_SIZE);
  if (gpa >= 0) {
    const dataId = guestDataId(gpa, size);
    node.data = { kind: 'guest', gpa, size, label: `guest L${level} entry at ${hx(gpa)}`, dataId };
  }
  node.named = () => {
    const d: VarNode[] = [
      leaf('raw', hx(entryValue(mode, lo, hi))),
      leaf('flags', guestFlags(mode, lo, hi)),
      leaf('frame', hx(entryFrame(mode, lo, hi))),
      leaf('level', String(level)),
    ];
    if (gpa >= 0) d.push(leaf('address', `gpa ${hx(gpa)}`, { memoryReference: hx(gpa - (gpa % PAGE_SIZE)) }));
    else d.push(leaf('address', 'a PDPTE register (loaded at the last CR3 load)'));
    d.push(leaf('changed by the last event', was !== undefined ? `yes, was ${hx(was)}` : 'no'));
    d.push(leaf('kind', !present ? 'not present' : pdpte ? 'PDPTE' : isGuestLeaf(mode, level, lo) ? (level > 1 ? 'large page (leaf)' : 'leaf') : 'table'));
    return d;
  };
  return node;
}

// ---------------------------------------------------------------------------
// Shadow walk

function shadowWalkScope(ctx: ViewContext, v: VCpu, va: number | undefined): VarNode {
  const rt = ctx.rt;
  return group('Shadow walk', '', () => {
    if (va === undefined) return [leaf('walk', 'this event has no guest virtual address')];
    const m = rt.machine;
    const out: VarNode[] = [];
    const dva = displayVa(va, rt.program.mode);
    let page: ShadowPage;
    if (m.mode.shadowLevels === 4) {
      if (!v.root) return [leaf('root', 'no shadow root')];
      page = v.root;
    } else {
      const q = shadowIndex(va, 3);
      const top = v.paeRoot[q] ?? null;
      out.push(leaf(`L3 pae_root [${q}]`, top ? `→ shadow page #${top.uid} (gfn ${hx(top.gfn)})` : 'not present', top ? { memoryReference: `s#${top.uid}`, evaluateName: `spte(${hx(dva)}, 3)` } : { evaluateName: `spte(${hx(dva)}, 3)` }));
      if (!top) return out;
      page = top;
    }
    for (;;) {
      const level = page.level;
      const index = shadowIndex(va, level);
      const spte = page.entry(index);
      const child: ShadowPage | null = page.child(index);
      out.push(shadowEntryNode(ctx, `L${level} #${page.uid} [${index}]`, page, page.uid, index, spte, undefined, undefined, `spte(${hx(dva)}, ${level})`));
      if (level === 1 || !child) {
        if (level > 1 && spte === 0) out.push(leaf('result', `the shadow path stops at L${level}: the next access exits`));
        else if (level === 1) out.push(leaf('result', spte === 0 ? 'no leaf shadow pte: the next access exits' : `maps host frame ${hx(spteFrame(spte))} (gfn ${hx(spteFrame(spte) - HOST_FRAME_OFFSET)}) ${shadowFlagNames(spte)}`));
        break;
      }
      page = child;
    }
    return out;
  });
}

function shadowEntryNode(ctx: ViewContext, name: string, page: ShadowPage | undefined, uid: number, index: number, spte: number, oldGiven?: number, valueOverride?: string, evaluateName?: string): VarNode {
  const level = page?.level ?? 1;
  const childUid = page?.child(index)?.uid;
  const changedOld = oldGiven ?? ctx.shadowChanges().get(`${uid}:${index}`);
  const value = valueOverride ?? shadowEntryText(spte, level, childUid) + (changedOld !== undefined ? `  [changed by the last event, was ${hx(spteToBigInt(changedOld))}]` : '');
  const node: VarNode = { name, value, type: `shadow L${level} entry`, evaluateName };
  node.data = { kind: 'shadow', uid, index, label: `shadow page #${uid} [${index}]`, dataId: shadowDataId(uid, index) };
  if (spte !== 0) {
    const hf = spteFrame(spte);
    if (level > 1 && childUid !== undefined) node.memoryReference = `s#${childUid}`;
    else if (level > 1 && hf >= SHADOW_FRAME_BASE) node.memoryReference = `s#${hf - SHADOW_FRAME_BASE}`;
    else node.memoryReference = hx((hf - HOST_FRAME_OFFSET) * PAGE_SIZE);
  }
  node.named = () => [
    leaf('raw', hx(spteToBigInt(spte))),
    leaf('flags', shadowFlagNames(spte)),
    leaf('frame', spte === 0 ? 'none' : level > 1 && childUid !== undefined ? `shadow page #${childUid} (host frame ${hx(spteFrame(spte))})` : `host frame ${hx(spteFrame(spte))} (gfn ${hx(spteFrame(spte) - HOST_FRAME_OFFSET)})`),
    leaf('page', page ? page.describe() : `#${uid} (freed)`, { memoryReference: `s#${uid}` }),
    leaf('index', String(index)),
    leaf('changed by the last event', changedOld !== undefined ? `yes, was ${hx(spteToBigInt(changedOld))}` : 'no'),
  ];
  return node;
}

// ---------------------------------------------------------------------------
// Guest page tables of the current CR3

function presentEntries(ctx: ViewContext, tableGpa: number, count: number): number[] {
  const m = ctx.m;
  const size = m.mode.entrySize;
  const out: number[] = [];
  for (let i = 0; i < count; i++) if (m.mem.read32(tableGpa + i * size) & PT_PRESENT) out.push(i);
  return out;
}

function guestTablesScope(ctx: ViewContext, v: VCpu): VarNode {
  const m = ctx.m;
  const mode = m.mode;
  const top = mode.levels;
  const count = mode.name === 'pae' ? 4 : mode.name === '32' ? 1024 : 512;
  const base = mode.name === 'pae' ? v.cr3 : Math.floor(v.cr3 / PAGE_SIZE) * PAGE_SIZE;
  return guestTableNode(ctx, `L${top} table`, base, top, count, 0, hx(v.cr3));
}

function guestTableNode(ctx: ViewContext, name: string, tableGpa: number, level: number, count: number, vaBase: number, label: string): VarNode {
  let present: number[] | null = null;
  const get = (): number[] => (present ??= presentEntries(ctx, tableGpa, count));
  const n = get().length;
  return {
    name,
    value: `${label}: ${n} present entr${n === 1 ? 'y' : 'ies'}`,
    memoryReference: hx(tableGpa - (tableGpa % PAGE_SIZE)),
    indexed: {
      count: n,
      get: (start, cnt) => {
        const m = ctx.m;
        const mode = m.mode;
        const size = mode.entrySize;
        const pdpt = mode.name === 'pae' && level === 3;
        return get()
          .slice(start, start + cnt)
          .map((i) => {
            const gpa = tableGpa + i * size;
            const lo = m.mem.read32(gpa);
            const hi = size === 8 ? m.mem.read32(gpa + 4) : 0;
            const va = vaBase + i * 2 ** mode.levelShift(level);
            const dva = displayVa(va, ctx.rt.program.mode);
            const node = guestEntryNode(ctx, `[${i}] ${hx(dva)}`, level, gpa, lo, hi, pdpt ? undefined : `gpte(${hx(dva)}, ${level})`, pdpt);
            if (pdpt || !isGuestLeaf(mode, level, lo)) {
              const child = entryFrame(mode, lo, hi) * PAGE_SIZE;
              const childCount = mode.name === '32' ? 1024 : 512;
              const sub = guestTableNode(ctx, node.name, child, level - 1, childCount, va, `L${level - 1} table at ${hx(child)}`);
              node.indexed = sub.indexed;
              delete node.named;
            }
            return node;
          });
      },
    },
  };
}

// ---------------------------------------------------------------------------
// Nested walk (designs.md, `tdp`)

/**
 * Under `tdp`: the guest-physical frames the event's walk touches, in the
 * hardware's order (each guest table on the path, then the page), each with
 * the nested table's entries on its path, level 4 down to the leaf.
 */
function nestedWalkScope(ctx: ViewContext, mmu: TdpMmu, v: VCpu, va: number | undefined): VarNode {
  const rt = ctx.rt;
  return group('Nested walk', '', () => {
    if (va === undefined) return [leaf('walk', 'this event has no guest virtual address')];
    const m = rt.machine;
    const w = new GuestWalk();
    const ok = walkAddr(m.mem, m.mode, v, va, ACC_READ, false, 0, w);
    const frames: { gfn: number; what: string }[] = [];
    for (let level = w.top; level >= w.level; level--) {
      if (w.pteGpa[level]! < 0) continue;
      frames.push({ gfn: w.tableGfn[level]!, what: `the guest's L${level} table` });
    }
    if (ok) frames.push({ gfn: w.gfn, what: 'the page' });
    return frames.map(({ gfn, what }) =>
      group(`gfn ${hx(gfn)}`, `${what}: ${mmu.isMapped(gfn) ? `mapped to host frame ${hx(gfn + HOST_FRAME_OFFSET)}` : 'not mapped: its first touch exits (npt)'}`, () => {
        const out: VarNode[] = [];
        for (let level = 4; level >= 1; level--) {
          const e = mmu.npte(gfn, level);
          const gpa = hx(gfn * PAGE_SIZE);
          if (e < 0) {
            out.push(leaf(`L${level}`, 'no nested table here', { evaluateName: `npte(${gpa}, ${level})` }));
            break;
          }
          out.push(leaf(`L${level}`, e === 0 ? 'not present' : `${hx(spteToBigInt(e))} → ${level > 1 ? `nested page (host frame ${hx(spteFrame(e))})` : `host frame ${hx(spteFrame(e))}`}`, { evaluateName: `npte(${gpa}, ${level})` }));
        }
        return out;
      }),
    );
  });
}

// ---------------------------------------------------------------------------
// Shadow pages

function shadowPagesScope(ctx: ViewContext): VarNode {
  const alive = ctx.m.shadow.alive;
  return paged('Shadow pages', `${alive} alive, oldest first`, alive, (start, count) =>
    ctx
      .pages()
      .slice(start, start + count)
      .map((p) => shadowPageNode(ctx, p)),
    {},
    (name) => ctx.pages().findIndex((p) => `#${p.uid}` === name),
  );
}

function shadowPageNode(ctx: ViewContext, p: ShadowPage): VarNode {
  const m = ctx.m;
  const wp = !p.role.metaphysical && m.shadow.isShadowed(p.gfn);
  let present: number[] | null = null;
  const entries = (): number[] => (present ??= p.entries());
  const n = entries().length;
  return {
    name: `#${p.uid}`,
    value: `gfn ${hx(p.gfn)}, level ${p.level}${p.role.nested ? ', nested' : p.role.metaphysical ? ', metaphysical' : ''}${p.role.access >= 0 ? `, access ${accessNames(p.role.access)}` : ''}, ${n} present${p.rootCount ? `, root ×${p.rootCount}` : ''}${wp ? ', write-protected' : ''}`,
    type: 'shadow page',
    memoryReference: `s#${p.uid}`,
    named: () => {
      const rows = ctx.rt.program.events;
      const out: VarNode[] = [
        leaf('gfn', hx(p.gfn), { memoryReference: hx(p.gfn * PAGE_SIZE) }),
        leaf('role', describeRole(p.role)),
        leaf('root count', String(p.rootCount)),
        leaf('write-protected', p.role.metaphysical ? 'no (metaphysical: shadows a guest large page, not a table)' : wp ? 'yes (its guest frame is shadowed: stores to it trap)' : 'no'),
        leaf('born', p.bornAt < 0 ? 'before the first event (a root)' : `line ${rows.lineOf(p.bornAt)}`),
        leaf('parents', p.parents.length ? p.parents.map((l) => `#${l.page.uid} [${l.index}]`).join(', ') : 'none'),
      ];
      const list = entries();
      out.push(
        paged('entries', `${list.length} present`, list.length, (start, count) =>
          list.slice(start, start + count).map((i) => shadowEntryNode(ctx, `[${i}]`, p, p.uid, i, p.entry(i))),
        ),
      );
      return out;
    },
  };
}

// ---------------------------------------------------------------------------
// Exit counters

function countersScope(ctx: ViewContext): VarNode {
  const rt = ctx.rt;
  return group('Exit counters', '', () => {
    const m = rt.machine;
    const e = m.mmu.exits;
    const others = rt.otherPolicyCounts();
    const beside = (k: keyof typeof e): string => {
      const parts = others.map((o) => (o.counts ? `${o.policy}: ${o.counts[k]}` : `${o.policy}: computing…`));
      return parts.length ? `  (${parts.join(', ')})` : '';
    };
    const keys: (keyof typeof e)[] = ['total', 'pf', 'fill', 'inject', 'emulate', 'cr3', 'invlpg', 'npt'];
    const out: VarNode[] = keys.map((k) => leaf(k, `${e[k]}${beside(k)}`, { evaluateName: `exits.${k}` }));
    out.push(leaf('policy', m.policy.name, { evaluateName: 'policy' }));
    out.push(leaf('faults injected', String(m.mmu.faults)));
    const s = m.shadow.stats;
    out.push(
      group('shadow', `${m.shadow.alive} pages alive`, () => [
        leaf('pagesCreated', String(s.pagesCreated)),
        leaf('pagesZapped', String(s.pagesZapped)),
        leaf('sptesZapped', String(s.sptesZapped)),
        leaf('sptesUpdated', String(s.sptesUpdated)),
        leaf('floods', String(s.floods)),
        leaf('unshadowed', String(s.unshadowed)),
        leaf('reclaimed', String(s.reclaimed)),
        leaf('overLimit', String(s.overLimit)),
        leaf('pagesAlive', String(m.shadow.alive)),
      ]),
    );
    out.push(leaf('expectations', `${m.expectations.passed} passed, ${m.expectations.failed} failed`));
    out.push(leaf('audit violations', m.auditor ? String(m.auditor.count) : 'audit off'));
    return out;
  });
}

