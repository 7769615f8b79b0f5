// The MMU map's data: what the `mmuMap` custom request answers at a stop.
// The guest page-table tree of the current CR3 beside the shadow pages
// grouped by root, with the walk of the event's address, the current handler
// step's entries and the last event's changes marked, and a downsampled
// timeline of exits per policy. Pure: reads the runtime and its machine,
// changes nothing (the guest walk runs without setting A/D bits), imports
// no vscode. Everything is bounded: tables show at most `tableEntries`
// present entries (plus the marked ones), the tree opens `depth` levels
// below the top (the walk's path always), the shadow at most `shadowPages`
// pages of `pageEntries` entries each, with "N more" counts for the rest.

import { accessOf } from './views';
import {
  GuestWalk,
  TdpMmu,
  HOST_FRAME_OFFSET,
  PAGE_SIZE,
  PT_PRESENT,
  SHADOW_FRAME_BASE,
  WALK_CHECK_PERMS,
  describeErrorCode,
  describeRole,
  displayVa,
  entryFrame,
  shadowIndex,
  spteFrame,
  spteToBigInt,
  walkAddr,
  type PagingMode,
  type ShadowPage,
  type VCpu,
} from '../engine';
import { Op } from '../trace';
import { entryValue, guestFlags, hx, isGuestLeaf, rowText, shadowFlagNames } from './format';
import { timelineInfo, type TimelineInfo } from './mmumap-timeline';
import type { TraceRuntime } from './runtime';

export type { TimelineBucket, TimelineInfo } from './mmumap-timeline';

/** The custom DAP request, and the capability of the initialize response that announces it. */
export const MMU_MAP_REQUEST = 'mmuMap';
export const MMU_MAP_CAPABILITY = 'supportsMmuMapRequest';

/** Defaults and hard caps of the request's bounds. */
export const MMU_MAP_DEFAULTS = { depth: 2, tableEntries: 64, guestEntries: 1500, shadowPages: 300, pageEntries: 32, wpFrames: 500, buckets: 400 } as const;
export const MMU_MAP_CAPS = { depth: 4, tableEntries: 1024, guestEntries: 20000, shadowPages: 5000, pageEntries: 512, wpFrames: 20000, buckets: 5000 } as const;

/**
 * walk: on the path of the event's address; step: the current handler step's
 * entry; created / zapped / updated / changed: what the last event did
 * (updated: installed by the `update` policy at a trapped pte write;
 * changed: rewritten, e.g. write-protected).
 */
export type Mark = 'walk' | 'step' | 'created' | 'zapped' | 'updated' | 'changed';

export interface MmuMapArgs {
  vcpu?: number;
  /** Only the guest subtree at this path of indexes from the top table (the panel opens a collapsed entry). */
  expand?: number[];
  depth?: number;
  tableEntries?: number;
  guestEntries?: number;
  shadowPages?: number;
  pageEntries?: number;
  buckets?: number;
  /** Leave out the timeline (the panel asks for it once per stop anyway; tests of the tree skip it). */
  timeline?: boolean;
}

export interface GuestEntry {
  index: number;
  level: number;
  /** Guest-physical address of the entry (a PAE PDPTE: its place in the PDPT at CR3). */
  gpa: number;
  raw: string;
  flags: string;
  /** The frame it points to (a large page: its base frame). */
  gfn: number;
  kind: 'table' | 'leaf' | 'large' | 'pdpte';
  /** The first VA the entry maps (as the trace writes it). */
  va: string;
  marks: Mark[];
  /** The raw value before the last event, when it changed it. */
  was?: string;
  /** Table entries: the table below, when opened. */
  child?: GuestTable;
  /** Table entries not opened: the panel may ask for `expand: path`. */
  expandable?: boolean;
  /** Large entries: uids of the metaphysical shadow pages of its base frame. */
  shadows?: number[];
}

export interface GuestTable {
  level: number;
  gfn: number;
  /** Guest-physical address of the table (PAE PDPT: CR3 itself). */
  gpa: number;
  path: number[];
  present: number;
  entries: GuestEntry[];
  /** Present entries not sent. */
  more: number;
  /** The frame is shadowed: stores to it trap. */
  wp: boolean;
  /** uids of the (non-metaphysical) shadow pages that shadow this table. */
  shadows: number[];
}

export interface ShadowEntry {
  index: number;
  raw: string;
  flags: string;
  marks: Mark[];
  was?: string;
  /** Non-leaf: the shadow page it points to. */
  child?: number;
  /** Leaf: the guest frame it maps. */
  gfn?: number;
}

export interface ShadowPageInfo {
  uid: number;
  gfn: number;
  level: number;
  role: string;
  metaphysical: boolean;
  rootCount: number;
  /** Its guest frame is write-protected (false for metaphysical pages). */
  wp: boolean;
  present: number;
  entries: ShadowEntry[];
  more: number;
  marks: Mark[];
  /** Line of the event that allocated it (0: a root built before the first event). */
  bornLine: number;
  parents: { uid: number; index: number }[];
}

export interface ShadowGroup {
  title: string;
  /** uid of the root page (null: pages no live root reaches). */
  root: number | null;
  current: boolean;
  total: number;
  pages: ShadowPageInfo[];
  more: number;
}

export interface WalkInfo {
  row: number;
  line: number;
  va: string;
  text: string;
  guest: { level: number; index: number; gpa: number; raw: string }[];
  shadow: { level: number; uid: number; index: number; raw: string }[];
  result: string;
}

export interface MmuMap {
  mode: string;
  policy: string;
  vcpu: number;
  threadId: number;
  cr3: string;
  position: { kind: string; row: number; line: number; text: string; step?: { index: number; fn: string; text: string } };
  lastEvent: { row: number; line: number; text: string; exit: string } | null;
  guest: GuestTable | null;
  /** Reply to `expand`: the requested subtree alone. */
  expanded?: GuestTable | null;
  shadow: { alive: number; groups: ShadowGroup[]; zappedPages: { uid: number; gfn: number; level: number; role: string }[] };
  writeProtected: { frames: number[]; more: number };
  walk: WalkInfo | null;
  timeline?: TimelineInfo;
  bounds: Required<Omit<MmuMapArgs, 'vcpu' | 'expand' | 'timeline'>>;
}

function clampArg(v: unknown, def: number, cap: number, min = 0): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError('bounds must be numbers');
  return Math.max(min, Math.min(cap, Math.floor(v)));
}

/** Checks the request's arguments (throws TypeError with a message for the user). */
export function parseMmuMapArgs(a: Record<string, unknown>): MmuMapArgs {
  const out: MmuMapArgs = {};
  if (a.vcpu !== undefined) {
    if (typeof a.vcpu !== 'number' || !Number.isSafeInteger(a.vcpu)) throw new TypeError('`vcpu` must be an integer');
    out.vcpu = a.vcpu;
  }
  if (a.expand !== undefined) {
    if (!Array.isArray(a.expand) || a.expand.length > 5 || !a.expand.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x < 1024)) throw new TypeError('`expand` must be a path of entry indexes');
    out.expand = a.expand as number[];
  }
  out.depth = clampArg(a.depth, MMU_MAP_DEFAULTS.depth, MMU_MAP_CAPS.depth);
  out.tableEntries = clampArg(a.tableEntries, MMU_MAP_DEFAULTS.tableEntries, MMU_MAP_CAPS.tableEntries, 1);
  out.guestEntries = clampArg(a.guestEntries, MMU_MAP_DEFAULTS.guestEntries, MMU_MAP_CAPS.guestEntries, 1);
  out.shadowPages = clampArg(a.shadowPages, MMU_MAP_DEFAULTS.shadowPages, MMU_MAP_CAPS.shadowPages, 1);
  out.pageEntries = clampArg(a.pageEntries, MMU_MAP_DEFAULTS.pageEntries, MMU_MAP_CAPS.pageEntries, 1);
  out.buckets = clampArg(a.buckets, MMU_MAP_DEFAULTS.buckets, MMU_MAP_CAPS.buckets, 1);
  if (a.timeline !== undefined && typeof a.timeline !== 'boolean') throw new TypeError('`timeline` must be true or false');
  out.timeline = a.timeline !== false;
  return out;
}

// ---------------------------------------------------------------------------

/** The row a stop is about (its event if it has a VA, else the last event) for the walk. */
function focusRow(rt: TraceRuntime): number {
  const p = rt.position;
  const hasVa = (row: number): boolean => {
    if (row < 0 || row >= rt.program.events.count) return false;
    const op = rt.program.events.opOf(row);
    return op === Op.Read || op === Op.Write || op === Op.Exec || op === Op.Pte || op === Op.Invlpg;
  };
  if (p.kind !== 'end' && hasVa(p.row)) return p.row;
  const last = rt.timeline.lastEventRow;
  return hasVa(last) ? last : -1;
}

function addMark(marks: Map<string, Mark[]>, key: string, m: Mark, pages?: Set<number>): void {
  if (pages) pages.add(Number(key.slice(0, key.indexOf(':'))));
  const l = marks.get(key);
  if (!l) marks.set(key, [m]);
  else if (!l.includes(m)) l.push(m);
}

interface Ctx {
  rt: TraceRuntime;
  mode: PagingMode;
  /** Guest entry gpa → marks; shadow `uid:index` → marks; shadow page uid → marks. */
  gmarks: Map<string, Mark[]>;
  smarks: Map<string, Mark[]>;
  /** uids of the pages that have marked entries. */
  smarkedPages: Set<number>;
  pmarks: Map<string, Mark[]>;
  /** Shadow `uid:index` → the value before the last event. */
  sold: Map<string, number>;
  walkPdpte: number;
  budget: number;
  args: Required<Omit<MmuMapArgs, 'vcpu' | 'expand' | 'timeline'>>;
}

/** Builds the answer of `mmuMap` at the runtime's current stop. */
export function buildMmuMap(rt: TraceRuntime, a: MmuMapArgs = {}): MmuMap {
  const m = rt.machine;
  const mode = m.mode;
  const args = {
    depth: a.depth ?? MMU_MAP_DEFAULTS.depth,
    tableEntries: a.tableEntries ?? MMU_MAP_DEFAULTS.tableEntries,
    guestEntries: a.guestEntries ?? MMU_MAP_DEFAULTS.guestEntries,
    shadowPages: a.shadowPages ?? MMU_MAP_DEFAULTS.shadowPages,
    pageEntries: a.pageEntries ?? MMU_MAP_DEFAULTS.pageEntries,
    buckets: a.buckets ?? MMU_MAP_DEFAULTS.buckets,
  };
  const vi = a.vcpu !== undefined && a.vcpu >= 0 && a.vcpu < m.mmu.vcpus.length ? a.vcpu : m.current;
  const v = m.mmu.vcpus[vi]!;
  const ctx: Ctx = { rt, mode, gmarks: new Map(), smarks: new Map(), smarkedPages: new Set(), pmarks: new Map(), sold: new Map(), walkPdpte: -1, budget: args.guestEntries, args };

  // The last event's shadow changes: first old value and last value of each entry.
  const seq = new Map<string, { old: number; now: number; refilled: boolean; page: ShadowPage; index: number }>();
  for (const c of m.shadow.changes) {
    const k = `${c.page.uid}:${c.index}`;
    const s = seq.get(k);
    if (!s) seq.set(k, { old: c.old, now: c.now, refilled: c.old === 0 && c.now !== 0, page: c.page, index: c.index });
    else {
      if (c.old === 0 && c.now !== 0) s.refilled = true;
      s.now = c.now;
    }
  }
  const trapped = m.mmu.store?.trapped === true;
  for (const [k, s] of seq) {
    // At a trapped pte store only the policy's update installs an entry (kvm_mmu_pte_write builds nothing else).
    let mark: Mark | null = null;
    if (trapped && s.refilled && s.now !== 0 && s.page.level === 1) mark = 'updated';
    else if (s.old !== 0 && s.now === 0) mark = 'zapped';
    else if (s.old === 0 && s.now !== 0) mark = 'created';
    else if (s.old !== s.now) mark = 'changed';
    if (!mark) continue;
    addMark(ctx.smarks, k, mark, ctx.smarkedPages);
    ctx.sold.set(k, s.old);
  }
  for (const p of m.shadow.created) addMark(ctx.pmarks, String(p.uid), 'created');
  for (const p of m.shadow.zapped) addMark(ctx.pmarks, String(p.uid), 'zapped');

  // Guest entries the last event stored to.
  const es = mode.entrySize;
  for (const st of rt.timeline.lastEventStores()) {
    for (let g = st.gpa - (st.gpa % es); g < st.gpa + st.size; g += es) addMark(ctx.gmarks, String(g), 'changed');
  }

  // The current handler step.
  const steps = rt.currentSteps;
  let stepInfo: MmuMap['position']['step'];
  if (rt.position.kind === 'step' && steps[rt.position.step]) {
    const s = steps[rt.position.step]!;
    stepInfo = { index: rt.position.step, fn: s.fn, text: s.text };
    for (const e of s.sptes ?? []) {
      addMark(ctx.smarks, `${e.page}:${e.index}`, 'step', ctx.smarkedPages);
      addMark(ctx.pmarks, String(e.page), 'step');
    }
    for (const g of s.gptes ?? []) addMark(ctx.gmarks, String(g), 'step');
  }

  // The walk of the event's address, both sides.
  const row = focusRow(rt);
  let walk: WalkInfo | null = null;
  if (row >= 0) {
    const va = rt.program.events.addrOf(row);
    const acc = accessOf(rt, row, v);
    const w = new GuestWalk();
    const ok = walkAddr(m.mem, mode, v, va, acc.kind, acc.user, WALK_CHECK_PERMS, w);
    const guest: WalkInfo['guest'] = [];
    for (let level = w.top; level >= w.level; level--) {
      const gpa = w.pteGpa[level]!;
      guest.push({ level, index: mode.index(va, level), gpa, raw: hx(entryValue(mode, w.pteLo[level]!, w.pteHi[level]!)) });
      if (gpa >= 0) addMark(ctx.gmarks, String(gpa), 'walk');
      else ctx.walkPdpte = mode.index(va, 3);
    }
    const shadow: WalkInfo['shadow'] = [];
    const tdp = m.mmu instanceof TdpMmu ? m.mmu : null;
    if (tdp) {
      // designs.md, `tdp`: the nested entries of every frame the walk touches (its tables, then the page).
      const frames: number[] = [];
      for (let level = w.top; level >= w.level; level--) if (w.pteGpa[level]! >= 0) frames.push(w.tableGfn[level]!);
      if (ok) frames.push(w.gfn);
      for (const g of frames) {
        for (let level = 4; level >= 1; level--) {
          const p = tdp.nptPage(g, level);
          if (!p) break;
          const index = Math.floor(g / 2 ** (9 * (level - 1))) & 511;
          addMark(ctx.smarks, `${p.uid}:${index}`, 'walk', ctx.smarkedPages);
          addMark(ctx.pmarks, String(p.uid), 'walk');
          if (level === 1) shadow.push({ level, uid: p.uid, index, raw: hx(spteToBigInt(p.entry(index))) });
        }
      }
    }
    let page: ShadowPage | null = tdp ? null : mode.shadowLevels === 4 ? v.root : (v.paeRoot[shadowIndex(va, 3)] ?? null);
    while (page) {
      const index = shadowIndex(va, page.level);
      const spte = page.entry(index);
      shadow.push({ level: page.level, uid: page.uid, index, raw: hx(spteToBigInt(spte)) });
      addMark(ctx.smarks, `${page.uid}:${index}`, 'walk', ctx.smarkedPages);
      addMark(ctx.pmarks, String(page.uid), 'walk');
      if (spte === 0 || page.level === 1) break;
      page = page.child(index);
    }
    const last = shadow[shadow.length - 1];
    const shadowText = tdp
      ? `the nested table maps ${shadow.filter((x) => x.raw !== '0x0').length} of the ${shadow.length} frames the walk touches that have a nested leaf table`
      : !last ? 'no shadow root' : last.level === 1 && last.raw !== '0x0' ? 'the shadow maps it' : `the shadow path stops at L${last.level}: an access exits`;
    walk = {
      row,
      line: rt.program.events.lineOf(row),
      va: hx(displayVa(va, rt.program.mode)),
      text: rowText(rt.program, row),
      guest,
      shadow,
      result: `${ok ? `guest: gpa ${hx(w.gpa)}` : `guest: #PF ${describeErrorCode(w.errorCode)} at L${w.level}`}; ${shadowText}`,
    };
  }

  const out: MmuMap = {
    mode: mode.name,
    policy: m.policy.name,
    vcpu: vi,
    threadId: vi + 1,
    cr3: hx(v.cr3),
    position: positionInfo(rt, stepInfo),
    lastEvent: lastEventInfo(rt),
    guest: null,
    shadow: { alive: m.shadow.alive, groups: [], zappedPages: [] },
    writeProtected: { frames: [], more: 0 },
    walk,
    bounds: args,
  };

  if (a.expand) {
    out.expanded = guestSubtree(ctx, v, a.expand);
    return out;
  }
  out.guest = guestTop(ctx, v);
  out.shadow = shadowSide(ctx, rt);
  out.writeProtected = writeProtected(rt, MMU_MAP_DEFAULTS.wpFrames);
  if (a.timeline !== false) out.timeline = timelineInfo(rt, args.buckets);
  return out;
}

function positionInfo(rt: TraceRuntime, step: MmuMap['position']['step']): MmuMap['position'] {
  const p = rt.position;
  const line = rt.currentLine;
  const text = p.kind === 'end' ? 'end of the trace' : `${p.kind === 'before' ? 'before' : 'after'} line ${line}: ${rowText(rt.program, p.row)}`;
  const info: MmuMap['position'] = { kind: p.kind, row: p.row, line, text };
  if (step) info.step = step;
  return info;
}

function lastEventInfo(rt: TraceRuntime): MmuMap['lastEvent'] {
  const row = rt.timeline.lastEventRow;
  if (row < 0) return null;
  const e = rt.machine.mmu.exit;
  return {
    row,
    line: rt.program.events.lineOf(row),
    text: rowText(rt.program, row),
    exit: e ? (e.reason === 'cr3' ? 'cr3' : e.outcome!) : 'none',
  };
}

// ---------------------------------------------------------------------------
// Guest side

function topTable(ctx: Ctx, v: VCpu): { gpa: number; level: number; count: number } {
  const mode = ctx.mode;
  if (mode.name === 'pae') return { gpa: v.cr3 - (v.cr3 % 32), level: 3, count: 4 };
  return { gpa: Math.floor(v.cr3 / PAGE_SIZE) * PAGE_SIZE, level: mode.levels, count: mode.name === '32' ? 1024 : 512 };
}

function guestTop(ctx: Ctx, v: VCpu): GuestTable {
  const t = topTable(ctx, v);
  return guestTable(ctx, t.gpa, t.level, t.count, 0, [], 0);
}

/** The subtree at `path` (indexes from the top), opened `depth` levels further; null when the path names no table. */
function guestSubtree(ctx: Ctx, v: VCpu, path: number[]): GuestTable | null {
  const mode = ctx.mode;
  const m = ctx.rt.machine;
  let { gpa, level, count } = topTable(ctx, v);
  let va = 0;
  for (let i = 0; i < path.length; i++) {
    const idx = path[i]!;
    if (idx >= count) return null;
    const e = gpa + idx * mode.entrySize;
    const lo = m.mem.read32(e);
    const hi = mode.entrySize === 8 ? m.mem.read32(e + 4) : 0;
    const pdpt = mode.name === 'pae' && level === 3;
    if (!(lo & PT_PRESENT) || (!pdpt && isGuestLeaf(mode, level, lo))) return null;
    va += idx * 2 ** mode.levelShift(level);
    gpa = entryFrame(mode, lo, hi) * PAGE_SIZE;
    level--;
    count = mode.name === '32' ? 1024 : 512;
  }
  return guestTable(ctx, gpa, level, count, va, path, 0);
}

function guestTable(ctx: Ctx, tableGpa: number, level: number, count: number, vaBase: number, path: number[], depth: number): GuestTable {
  const m = ctx.rt.machine;
  const mode = ctx.mode;
  const size = mode.entrySize;
  const sh = m.shadow;
  const gfn = Math.floor(tableGpa / PAGE_SIZE);
  const pdpt = mode.name === 'pae' && level === 3;
  const present: number[] = [];
  const marked = new Set<number>();
  for (let i = 0; i < count; i++) {
    const g = tableGpa + i * size;
    if (m.mem.read32(g) & PT_PRESENT) present.push(i);
    // Marked entries are sent present or not (a walk that faults at a missing entry, a store that cleared one).
    if ((ctx.gmarks.size && ctx.gmarks.has(String(g))) || (pdpt && i === ctx.walkPdpte)) marked.add(i);
  }
  const cap = Math.max(0, Math.min(ctx.args.tableEntries, ctx.budget));
  const chosen: number[] = [];
  let taken = 0;
  const presentSet = new Set(present);
  for (const i of present) {
    if (marked.has(i)) chosen.push(i);
    else if (taken < cap) {
      chosen.push(i);
      taken++;
    }
  }
  for (const i of marked) if (!presentSet.has(i)) chosen.push(i);
  chosen.sort((x, y) => x - y);
  ctx.budget -= chosen.length;
  const shadows = pdpt ? [] : (sh.hash.get(gfn) ?? []).filter((p) => !p.role.metaphysical).map((p) => p.uid);
  const table: GuestTable = {
    level,
    gfn,
    gpa: tableGpa,
    path,
    present: present.length,
    entries: [],
    more: present.length - chosen.filter((i) => presentSet.has(i)).length,
    wp: !pdpt && sh.isShadowed(gfn),
    shadows,
  };
  for (const i of chosen) {
    const gpa = tableGpa + i * size;
    const lo = m.mem.read32(gpa);
    const hi = size === 8 ? m.mem.read32(gpa + 4) : 0;
    const va = vaBase + i * 2 ** mode.levelShift(level);
    const isPresent = (lo & PT_PRESENT) !== 0;
    const leaf = !pdpt && isGuestLeaf(mode, level, lo);
    let frame = entryFrame(mode, lo, hi);
    if (leaf && level > 1) frame -= frame % mode.largeFrameAlign(level);
    const marks = [...(ctx.gmarks.get(String(gpa)) ?? [])];
    if (pdpt && i === ctx.walkPdpte && !marks.includes('walk')) marks.push('walk');
    const e: GuestEntry = {
      index: i,
      level,
      gpa,
      raw: hx(entryValue(mode, lo, hi)),
      flags: isPresent ? guestFlags(mode, lo, hi) : 'not present',
      gfn: frame,
      kind: pdpt ? 'pdpte' : leaf ? (level > 1 ? 'large' : 'leaf') : 'table',
      va: hx(displayVa(va, ctx.rt.program.mode)),
      marks,
    };
    if (marks.includes('changed')) {
      const was = ctx.rt.timeline.valueBeforeLastEvent(gpa, size);
      if (was !== undefined) e.was = hx(was);
    }
    if (e.kind === 'large') e.shadows = (sh.hash.get(frame) ?? []).filter((p) => p.role.metaphysical).map((p) => p.uid);
    if (isPresent && (e.kind === 'table' || e.kind === 'pdpte') && level > 1) {
      const onWalk = marks.includes('walk');
      if ((depth < ctx.args.depth && ctx.budget > 0) || onWalk) {
        e.child = guestTable(ctx, frame * PAGE_SIZE, level - 1, mode.name === '32' ? 1024 : 512, va, [...path, i], depth + 1);
      } else e.expandable = true;
    }
    table.entries.push(e);
  }
  return table;
}

// ---------------------------------------------------------------------------
// Shadow side

function shadowSide(ctx: Ctx, rt: TraceRuntime): MmuMap['shadow'] {
  const m = rt.machine;
  const sh = m.shadow;
  const all = sh.pages();
  // Group heads: the current roots of every vCPU first, then pages without parents (old roots, orphans), oldest first.
  const heads: { page: ShadowPage; title: string; current: boolean }[] = [];
  const headSet = new Set<ShadowPage>();
  for (const v of m.mmu.vcpus) {
    const roots = m.mode.shadowLevels === 4 ? [v.root] : v.paeRoot;
    roots.forEach((p, q) => {
      if (!p || headSet.has(p)) return;
      headSet.add(p);
      heads.push({ page: p, title: m.mode.shadowLevels === 4 ? `vCPU ${v.id} root` : `vCPU ${v.id} pae_root[${q}]`, current: true });
    });
  }
  for (const p of all) {
    if (p.parents.length === 0 && !headSet.has(p)) {
      headSet.add(p);
      heads.push({ page: p, title: p.role.nested ? 'nested page table' : p.rootCount > 0 ? 'root' : 'no parent', current: p.role.nested });
    }
  }
  const seen = new Set<ShadowPage>();
  const groups: { head: (typeof heads)[number] | null; list: ShadowPage[] }[] = [];
  for (const h of heads) {
    if (seen.has(h.page)) continue;
    const list: ShadowPage[] = [];
    const stack: ShadowPage[] = [h.page];
    while (stack.length) {
      const p = stack.pop()!;
      if (seen.has(p)) continue;
      seen.add(p);
      list.push(p);
      if (p.hasChildren) {
        for (let i = 511; i >= 0; i--) {
          const c = p.child(i);
          if (c && !seen.has(c)) stack.push(c);
        }
      }
    }
    groups.push({ head: h, list });
  }
  const rest = all.filter((p) => !seen.has(p));
  if (rest.length) groups.push({ head: null, list: rest });

  let budget = ctx.args.shadowPages;
  // Marked pages (walk, step, created, zapped) and the group heads are sent first, up to as many again.
  let priorityBudget = ctx.args.shadowPages;
  const outGroups: ShadowGroup[] = [];
  for (const g of groups) {
    const pages: ShadowPageInfo[] = [];
    for (const p of g.list) {
      const priority = (ctx.pmarks.has(String(p.uid)) || ctx.smarkedPages.has(p.uid) || p === g.head?.page) && priorityBudget-- > 0;
      if (!priority && budget <= 0) continue;
      if (!priority) budget--;
      pages.push(pageInfo(ctx, rt, p));
    }
    outGroups.push({
      title: g.head ? `${g.head.title} #${g.head.page.uid} (gfn ${hx(g.head.page.gfn)})` : 'unreached pages',
      root: g.head ? g.head.page.uid : null,
      current: g.head?.current ?? false,
      total: g.list.length,
      pages,
      more: g.list.length - pages.length,
    });
  }
  const zappedPages = sh.zapped.filter((p) => !p.alive).map((p) => ({ uid: p.uid, gfn: p.gfn, level: p.level, role: describeRole(p.role) }));
  return { alive: sh.alive, groups: outGroups, zappedPages };
}

function pageInfo(ctx: Ctx, rt: TraceRuntime, p: ShadowPage): ShadowPageInfo {
  const sh = rt.machine.shadow;
  const entries: ShadowEntry[] = [];
  let present = 0;
  let more = 0;
  const anyMarks = ctx.smarkedPages.has(p.uid);
  // A page with marks is read whole (a marked entry may have gone to 0); else its present entries.
  const indexes = anyMarks ? Array.from({ length: 512 }, (_, i) => i) : p.entries();
  for (const i of indexes) {
    const spte = p.entry(i);
    if (spte === 0 && !anyMarks) continue;
    const k = anyMarks ? `${p.uid}:${i}` : '';
    const marks = anyMarks ? ctx.smarks.get(k) : undefined;
    if (spte === 0 && !marks) continue;
    if (spte !== 0) present++;
    // Marked entries come whatever the cap (at most the page's 512).
    if (!marks && entries.length >= ctx.args.pageEntries) {
      more++;
      continue;
    }
    const e: ShadowEntry = { index: i, raw: hx(spteToBigInt(spte)), flags: spte === 0 ? 'not present' : shadowFlagNames(spte), marks: marks ? [...marks] : [] };
    const old = anyMarks ? ctx.sold.get(k) : undefined;
    if (old !== undefined) e.was = hx(spteToBigInt(old));
    if (spte !== 0) {
      const child = p.child(i);
      if (child) e.child = child.uid;
      else if (p.level > 1 && spteFrame(spte) >= SHADOW_FRAME_BASE) e.child = spteFrame(spte) - SHADOW_FRAME_BASE;
      else e.gfn = spteFrame(spte) - HOST_FRAME_OFFSET;
    }
    entries.push(e);
  }
  return {
    uid: p.uid,
    gfn: p.gfn,
    level: p.level,
    role: describeRole(p.role),
    metaphysical: p.role.metaphysical,
    rootCount: p.rootCount,
    wp: !p.role.metaphysical && sh.isShadowed(p.gfn),
    present,
    entries,
    more,
    marks: [...(ctx.pmarks.get(String(p.uid)) ?? [])],
    bornLine: p.bornAt < 0 ? 0 : (rt.program.events.lineOf(p.bornAt) ?? 0),
    parents: p.parents.slice(0, 8).map((l) => ({ uid: l.page.uid, index: l.index })),
  };
}

function writeProtected(rt: TraceRuntime, cap: number): MmuMap['writeProtected'] {
  const sh = rt.machine.shadow;
  const frames: number[] = [];
  let n = 0;
  for (const gfn of sh.hash.keys()) {
    if (!sh.isShadowed(gfn)) continue;
    if (frames.length < cap) frames.push(gfn);
    n++;
  }
  frames.sort((x, y) => x - y);
  return { frames, more: n - frames.length };
}
