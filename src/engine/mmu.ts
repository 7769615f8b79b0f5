// The hypervisor's side of each event: the page-fault exit (page_fault,
// walk_addr, fetch, inject_page_fault), the trapped pte store
// (kvm_mmu_pte_write) and the CR3 load (new_cr3), over the shared shadow.

import {
  HOST_FRAME_OFFSET,
  PAGE_MASK,
  PAGE_SIZE,
  PT_ACCESSED,
  PT_DIRTY,
  PT_PRESENT,
  PT_USER,
  PT_WRITABLE,
  flagNames,
  hex,
  makeSpte,
  spteFlags,
  spteFrame,
  spteNx,
} from './bits';
import type { GuestMemory } from './memory';
import { shadowIndex, type PagingMode } from './paging';
import type { Design, Policy } from './policy';
import { ACC_REC_U, ACC_REC_W, hostFrameOf, roleWordOf, type ShadowMmu, type ShadowPage } from './shadow';
import {
  ACCESS_ALL,
  ACCESS_U,
  ACCESS_W,
  ACCESS_X,
  ACC_EXEC,
  ACC_WRITE,
  GuestWalk,
  WALK_CHECK_PERMS,
  WALK_SET_BITS,
  describeErrorCode,
  entryFrame,
  walkAddr,
  type AccessKind,
  type WalkRoot,
} from './walk';

export class VCpu implements WalkRoot {
  cr3 = 0;
  user = true;
  readonly pdpteLo = new Uint32Array(4);
  readonly pdpteHi = new Uint32Array(4);
  /** Mode 64: the level-4 root. */
  root: ShadowPage | null = null;
  /** Modes 32 and pae: the 4-entry PAE root, each a level-2 shadow page or null. */
  readonly paeRoot: (ShadowPage | null)[] = [null, null, null, null];
  /** The write-flood detector. */
  lastPtWriteGfn = -1;
  lastPtWriteCount = 0;

  constructor(readonly id: number) {}
}

export interface ExitCounters {
  total: number;
  pf: number;
  fill: number;
  inject: number;
  emulate: number;
  cr3: number;
  invlpg: number;
  /** Nested page faults under `tdp` (designs.md); 0 under the shadow policies. */
  npt: number;
}

export function emptyExits(): ExitCounters {
  return { total: 0, pf: 0, fill: 0, inject: 0, emulate: 0, cr3: 0, invlpg: 0, npt: 0 };
}

export type ExitReason = 'page-fault' | 'cr3' | 'npt';
export type ExitOutcome = 'fill' | 'inject' | 'emulate' | 'map';

export interface ExitInfo {
  readonly reason: ExitReason;
  readonly outcome?: ExitOutcome;
}

const EXIT_CR3: ExitInfo = Object.freeze({ reason: 'cr3' });
const EXIT_FILL: ExitInfo = Object.freeze({ reason: 'page-fault', outcome: 'fill' });
const EXIT_INJECT: ExitInfo = Object.freeze({ reason: 'page-fault', outcome: 'inject' });
const EXIT_EMULATE: ExitInfo = Object.freeze({ reason: 'page-fault', outcome: 'emulate' });
const EXIT_NPT: ExitInfo = Object.freeze({ reason: 'npt', outcome: 'map' });

/** What one access did, as the guest sees it. */
export interface AccessResult {
  readonly ok: boolean;
  /** The injected #PF's error code, or -1. */
  readonly fault: number;
}

/**
 * Where 2007 would have looped forever (engine.md, "The retry" and
 * "Reclaim"): a `livelock` is an access the guest would retry forever, a
 * `hang` a loop in the host's own code. `fn` is the 2007 function that loops.
 */
export interface Incident {
  readonly kind: 'livelock' | 'hang';
  /**
   * Livelocks: `refused` (a present leaf whose recorded access, or NX,
   * refuses what this path allows), `self-map` (a user write to the page
   * table that maps it), `root-kept` (a user write to a frame a root in use
   * keeps shadowed). Hangs: `reclaim` or `unshadow`.
   */
  readonly cause: 'refused' | 'self-map' | 'root-kept' | 'reclaim' | 'unshadow';
  readonly fn: string;
  readonly message: string;
}

/** An access that has taken this many `fill` exits in a row without completing is a livelock. */
export const LIVELOCK_FILLS = 4;

/** Why the last `fill` exit left the access refused (for the livelock's message). */
const enum FillWhy {
  Fixed,
  Refused,
  Unshadowed,
  RootKept,
}

/** A guest store to memory that may be a page-table entry (for the debugger's pte-write filter). */
export interface StoreInfo {
  gpa: number;
  size: number;
  trapped: boolean;
}

export class Mmu {
  readonly vcpus: VCpu[] = [];
  exits: ExitCounters = emptyExits();
  faults = 0;
  /** Set by the handlers of the current event: its last exit, and all of them in order (retries included). */
  exit: ExitInfo | null = null;
  readonly eventExits: ExitInfo[] = [];
  fault = -1;
  floodZapped = false;
  /** Accesses 2007 would have retried forever, and loops of its host code (engine.md, "Counting"). */
  livelocks = 0;
  hangs = 0;
  /**
   * The current event's livelocked write, where its store landed in a
   * shadowed frame: guest memory under a shadow path changed without the
   * pte-write path (the shadow stays as the last exit left it), so the audit
   * looks at everything, and names what it finds after the livelock.
   */
  livelockStore: { gpa: number; size: number } | null = null;
  /** A replay error of the current event (under `tdp`: a guest-physical address the nested table cannot map). */
  error: string | null = null;
  /** The current event's livelocks and hangs, in order. */
  incidents: Incident[] = [];
  private fillWhy = FillWhy.Fixed;
  /** The current event's store (rewritten by the next one: read it, don't keep it). */
  store: StoreInfo | null = null;
  private readonly storeInfo: StoreInfo = { gpa: 0, size: 0, trapped: false };
  protected readonly walk = new GuestWalk();
  /** The policy's design: 2007's shadow, 2008's `access`, or `tdp` (see TdpMmu). */
  readonly design: Design;

  constructor(
    readonly mode: PagingMode,
    readonly mem: GuestMemory,
    readonly shadow: ShadowMmu,
    readonly policy: Policy,
    vcpus: number,
  ) {
    this.design = policy.design;
    for (let i = 0; i < vcpus; i++) this.vcpus.push(new VCpu(i));
  }

  /** The paging-mode prefix of FNAME functions (paging_tmpl.h). */
  protected fname(name: string): string {
    return (this.mode.entrySize === 4 ? 'paging32_' : 'paging64_') + name;
  }

  beginEvent(): void {
    this.exit = null;
    if (this.eventExits.length) this.eventExits.length = 0;
    this.fault = -1;
    this.floodZapped = false;
    this.store = null;
    this.error = null;
    this.livelockStore = null;
    if (this.incidents.length) this.incidents = [];
  }

  private hang(cause: 'reclaim' | 'unshadow', fn: string, message: string): void {
    this.hangs++;
    this.incidents.push({ kind: 'hang', cause, fn, message });
    this.shadow.rec?.step(fn, `hang: ${message}`);
  }

  /** Reclaim at the start of an exit (kvm_mmu_free_some_pages); a reclaim that finds only roots in use is a hang. */
  private reclaim(): void {
    const sh = this.shadow;
    if (!sh.freeSomePages()) return;
    this.hang(
      'reclaim',
      'kvm_mmu_free_some_pages',
      sh.alive === 0
        ? `kvm_mmu_free_some_pages would loop forever: no shadow page is left, and only ${sh.free} of shadow-pages ${sh.limit} are free`
        : `kvm_mmu_free_some_pages would loop forever: only roots in use are left (${sh.alive} pages, each emptied once), and ${sh.free} of shadow-pages ${sh.limit} are free`,
    );
  }

  protected countExit(reason: ExitReason, outcome?: ExitOutcome): void {
    this.exits.total++;
    if (reason === 'npt') {
      this.exits.npt++;
      this.exit = EXIT_NPT;
    } else if (reason === 'cr3') {
      this.exits.cr3++;
      this.exit = EXIT_CR3;
    } else {
      this.exits.pf++;
      if (outcome === 'fill') {
        this.exits.fill++;
        this.exit = EXIT_FILL;
      } else if (outcome === 'inject') {
        this.exits.inject++;
        this.exit = EXIT_INJECT;
      } else {
        this.exits.emulate++;
        this.exit = EXIT_EMULATE;
      }
    }
    this.eventExits.push(this.exit);
  }

  /** The last guest walk (the debugger's walk view reads it right after an event). */
  get lastWalk(): GuestWalk {
    return this.walk;
  }

  // -------------------------------------------------------------------------
  // The hardware's shadow walk

  /** The level-2 or level-4 page where the shadow walk of `va` starts, or null. */
  shadowTop(vcpu: VCpu, va: number): ShadowPage | null {
    return this.mode.shadowLevels === 4 ? vcpu.root : vcpu.paeRoot[shadowIndex(va, 3)]!;
  }

  /** The leaf shadow entry the hardware finds for `va` (0 when the path is incomplete or the entry empty). */
  shadowLeaf(vcpu: VCpu, va: number): number {
    let page = this.shadowTop(vcpu, va);
    if (page === null) return 0;
    for (let level = page.level; level > 1; level--) {
      page = page.child(shadowIndex(va, level));
      if (page === null) return 0;
    }
    return page.entry((va >>> 12) & 511);
  }

  // -------------------------------------------------------------------------
  // Accesses

  /**
   * A guest read, write or exec of `va`. The hardware walks the shadow; where
   * it refuses, a page-fault exit, after which the guest retries (engine.md,
   * "The retry"), until the access completes, a #PF is injected, or it has
   * taken LIVELOCK_FILLS `fill` exits in a row (a livelock: it then completes
   * as the guest walk says). Returns true when it completed, false when a #PF
   * was injected (its error code in `fault`).
   */
  access(vcpu: VCpu, va: number, kind: AccessKind, user: boolean, lo: number, hi: number, size: number, hasValue: boolean): boolean {
    for (let fills = 0; ; ) {
      const spte = this.shadowLeaf(vcpu, va);
      if (this.leafAllows(spte, kind, user)) {
        if (kind === ACC_WRITE && hasValue) {
          const gpa = (spteFrame(spte) - HOST_FRAME_OFFSET) * PAGE_SIZE + (va & PAGE_MASK);
          this.mem.writeLoHi(gpa, lo, hi, size);
        }
        return true;
      }
      const outcome = this.pageFault(vcpu, va, kind, user, lo, hi, size, hasValue, fills);
      if (outcome === 'inject') return false;
      if (outcome === 'emulate') return true;
      if (++fills === LIVELOCK_FILLS) {
        this.livelock(va, kind, user);
        // The event completes as the guest walk says: A and D were set by each walk, the store lands.
        if (kind === ACC_WRITE && hasValue) {
          this.mem.writeLoHi(this.walk.gpa, lo, hi, size);
          if (this.shadow.isShadowed(this.walk.gfn)) this.livelockStore = { gpa: this.walk.gpa, size };
        }
        return true;
      }
    }
  }

  /** Counts and reports a livelock, with the reason the last `fill` left the access refused. */
  private livelock(va: number, kind: AccessKind, user: boolean): void {
    const what = describeAccess(kind, va, user);
    const gfn = hex(this.walk.gfn);
    let fn: string;
    let why: string;
    let cause: Incident['cause'];
    switch (this.fillWhy) {
      case FillWhy.Unshadowed:
        cause = 'self-map';
        fn = this.fname('fix_write_pf');
        why = `the user write to gfn ${gfn}, a page table on its own path, unshadows it, and the next ${this.fname('fetch')} shadows it again`;
        break;
      case FillWhy.RootKept:
        cause = 'root-kept';
        fn = this.fname('fix_write_pf');
        why = `a root in use keeps gfn ${gfn} shadowed, so the user write never gets a writable shadow pte`;
        break;
      default:
        cause = 'refused';
        fn = this.fname(kind === ACC_WRITE ? 'fix_write_pf' : 'page_fault');
        why =
          'the present leaf shadow pte was built through a path that allowed less (its recorded access, or NX), ' +
          `and ${this.fname('fetch')} returns it as it stands, so nothing is fixed`;
    }
    const message = `the guest would retry this ${what} forever: ${LIVELOCK_FILLS} fill exits in a row, and ${why}`;
    this.livelocks++;
    this.incidents.push({ kind: 'livelock', cause, fn, message });
    this.shadow.rec?.step(fn, `livelock: ${message}; the event completes as the guest walk says`);
  }

  /** FNAME(page_fault): one exit, reason page-fault. `retry` counts the fill exits before it in this access. */
  private pageFault(vcpu: VCpu, va: number, kind: AccessKind, user: boolean, lo: number, hi: number, size: number, hasValue: boolean, retry: number): ExitOutcome {
    const rec = this.shadow.rec;
    if (rec) {
      const what = describeAccess(kind, va, user);
      rec.enter(this.fname('page_fault'), `VM exit: page fault on ${what}${retry ? ` (retry ${retry}: the shadow still refuses it)` : ''}`);
    }
    this.reclaim();
    const w = this.walk;
    const ok = walkAddr(this.mem, this.mode, vcpu, va, kind, user, WALK_SET_BITS | WALK_CHECK_PERMS, w);
    if (rec) this.recordWalk(w, va);
    let outcome: ExitOutcome;
    if (!ok) {
      rec?.step('inject_page_fault', `guest walk faulted at L${w.level}: #PF ${describeErrorCode(w.errorCode)} injected into the guest`);
      this.countExit('page-fault', 'inject');
      this.faults++;
      this.fault = w.errorCode;
      vcpu.lastPtWriteCount = 0;
      outcome = 'inject';
    } else {
      if (w.setD && this.design === 'access') {
        // 2008 set D with a whole-entry store that runs kvm_mmu_pte_write for that entry (no exit
        // of its own): its shadow entry is zapped (at level 1 installed again) before fetch runs.
        rec?.step(this.fname('walk_addr'), `D set by a whole-entry store of the ${w.level > 1 ? 'large' : 'leaf'} entry at ${hex(w.pteGpa[w.level]!)}: kvm_mmu_pte_write runs for it`);
        this.pteWrite(vcpu, w.pteGpa[w.level]!, this.mode.entrySize);
      }
      const leaf = this.fetch(vcpu, va, w);
      const index = shadowIndex(va, 1);
      this.fillWhy = FillWhy.Fixed;
      if (kind === ACC_WRITE) outcome = this.fixWritePf(vcpu, leaf, index, w, user, lo, hi, size, hasValue);
      else {
        // fix_read_pf, with CR0.WP set: nothing to fix.
        outcome = 'fill';
        if (!this.leafAllows(leaf.entry(index), kind, user)) {
          this.fillWhy = FillWhy.Refused;
          rec?.step('fix_read_pf', `the present leaf refuses this ${kind === ACC_EXEC ? 'fetch' : 'read'} (recorded access ${describeRecordedAccess(leaf.access(index))}${spteNx(leaf.entry(index)) ? ', NX' : ''}): nothing fixed (CR0.WP is set)`);
        }
      }
      if (outcome === 'fill') {
        this.countExit('page-fault', 'fill');
        vcpu.lastPtWriteCount = 0;
      }
    }
    rec?.leave();
    return outcome;
  }

  /** True when a leaf shadow entry allows the access (what the hardware checks). */
  private leafAllows(spte: number, kind: AccessKind, user: boolean): boolean {
    if (spte === 0) return false;
    const f = spteFlags(spte);
    return (kind !== ACC_WRITE || (f & PT_WRITABLE) !== 0) && (!user || (f & PT_USER) !== 0) && (kind !== ACC_EXEC || !spteNx(spte));
  }

  /**
   * FNAME(fix_write_pf): a write fault on a leaf that fetch left present.
   * Only where its recorded access allows the write: a kernel write to a
   * shadowed frame is emulated, a user write unshadows it, otherwise W is
   * added.
   */
  private fixWritePf(vcpu: VCpu, leaf: ShadowPage, index: number, w: GuestWalk, user: boolean, lo: number, hi: number, size: number, hasValue: boolean): ExitOutcome {
    const rec = this.shadow.rec;
    const acc = leaf.access(index);
    if (this.design === '2007' && ((acc & ACC_REC_W) === 0 || (user && (acc & ACC_REC_U) === 0))) {
      rec?.step(this.fname('fix_write_pf'), `the leaf's recorded access (${describeRecordedAccess(acc)}) refuses a ${user ? 'user' : 'kernel'} write: nothing fixed`);
      this.fillWhy = FillWhy.Refused;
      return 'fill';
    }
    if (this.shadow.isShadowed(w.gfn)) {
      if (!user) {
        rec?.enter('emulate_store', `kernel write to gfn ${hex(w.gfn)}, a shadowed guest page table: the store is emulated`);
        this.countExit('page-fault', 'emulate');
        this.storeLanded(w.gpa, lo, hi, size, hasValue);
        this.pteWrite(vcpu, w.gpa, size);
        rec?.leave();
        return 'emulate';
      }
      this.unshadow(w.gfn, leaf, index);
      return 'fill';
    }
    const spte = leaf.entry(index);
    if ((spteFlags(spte) & PT_WRITABLE) === 0) {
      // Entries are exact numbers above 2^32 (bits.ts): add W, never `|`.
      this.shadow.setSpte(leaf, index, spte + PT_WRITABLE);
      if (rec) rec.step(this.fname('fix_write_pf'), `leaf spte in ${leaf.describe()} [${index}] made writable`).sptes = [{ page: leaf.uid, index }];
    }
    return 'fill';
  }

  private recordWalk(w: GuestWalk, va: number): void {
    const rec = this.shadow.rec!;
    const name = this.fname('walk_addr');
    for (let level = w.top; level >= w.level; level--) {
      const lo = w.pteLo[level]!;
      const hi = w.pteHi[level]!;
      const value = this.mode.entrySize === 8 ? (BigInt(hi) << 32n) | BigInt(lo) : BigInt(lo);
      const where = w.pteGpa[level]! < 0 ? 'PDPTE register' : `entry at ${hex(w.pteGpa[level]!)}`;
      let text = `L${level} ${where} = ${hex(value)}`;
      if ((lo & PT_PRESENT) === 0) text += ': not present';
      else if (level === w.level && !w.ok) text += ': present, but refuses the access';
      else {
        text += ': present';
        if (w.pteGpa[level]! >= 0) text += w.setA & (1 << level) ? ', A set now' : ', A already set';
        if (level === w.level && w.setD) text += ', D set now';
      }
      const s = rec.step(name, text);
      if (w.pteGpa[level]! >= 0) s.gptes = [w.pteGpa[level]!];
    }
    if (w.ok) rec.step(name, `${hex(va)} → gpa ${hex(w.gpa)}${w.level > 1 ? ` (a ${w.level === 2 ? (this.mode.name === '32' ? '4 MiB' : '2 MiB') : '1 GiB'} page)` : ''}`);
  }

  /**
   * FNAME(fetch): descends the shadow from the vCPU's root, creating each
   * missing shadow page, and builds the leaf shadow entry from the walk where
   * it is missing (a present leaf is returned as it stands), recording the
   * walk's access (W and U where every level allowed them).
   * Returns the leaf's page (its index is `shadowIndex(va, 1)`).
   */
  private fetch(vcpu: VCpu, va: number, w: GuestWalk): ShadowPage {
    const rec = this.shadow.rec;
    rec?.enter(this.fname('fetch'), `descend the shadow for ${hex(va)}`);
    let page = this.shadowTop(vcpu, va)!;
    for (let level = page.level; level > 1; level--) {
      const index = shadowIndex(va, level);
      const child = page.child(index);
      if (child !== null) {
        page = child;
        continue;
      }
      page = this.shadow.getPageByWord(this.childGfn(va, level - 1, w), this.childRole(va, level - 1, w), page, index);
    }
    const index = shadowIndex(va, 1);
    const cur = page.entry(index);
    if (cur !== 0 && this.design === '2007') {
      // 2007's fetch returns a present leaf as it stands, with the access recorded when it was built.
      rec?.step(this.fname('fetch'), `leaf spte ${hex(cur)} in ${page.describe()} [${index}] is present: returned as it stands (recorded access ${describeRecordedAccess(page.access(index))})`);
    } else {
      // 2008's mmu_set_spte rebuilds the leaf on every fault, present or not.
      const spte = this.design === 'access' ? this.leafSpte2008(w) : this.leafSpte(w);
      this.shadow.setSpte(page, index, spte);
      page.storeAccess(index, (w.accW ? ACC_REC_W : 0) | (w.accU ? ACC_REC_U : 0));
      if (rec) {
        rec.step(this.design === 'access' ? 'mmu_set_spte' : this.fname(w.level > 1 ? 'set_pde' : 'set_pte'), `leaf spte ${hex(spte)} in ${page.describe()} [${index}]: ${describeSpte(spte)}`).sptes = [
          { page: page.uid, index },
        ];
      }
    }
    rec?.leave();
    return page;
  }

  /**
   * The guest frame that keys the shadow page at `level` for this walk: the
   * guest table, or below a guest large entry the large entry's frame bits as
   * written (2007 did not mask them: bit 12, PAT, keys another page),
   * plus 512 frames for each 2 MiB into a 1 GiB page (metaphysical).
   */
  private childGfn(va: number, level: number, w: GuestWalk): number {
    if (w.level <= level) return w.tableGfn[level]!;
    let gfn = entryFrame(this.mode, w.pteLo[w.level]!, w.pteHi[w.level]!);
    if (w.level === 3 && level === 1) gfn += ((va >>> 21) & 511) * 512;
    return gfn;
  }

  /** The role (as its word, see `roleWord`) of the shadow page at `level` for this walk. */
  private childRole(va: number, level: number, w: GuestWalk): number {
    const glevels = this.mode.levels;
    const quadrant = glevels === 2 ? (va >>> (12 + 9 * level)) & ((1 << level) - 1) : 0;
    if (this.design === 'access') {
      // 2008: every page on the path takes the whole walk's pt_access; a metaphysical page also
      // loses W while the large entry is not dirty after the walk.
      const meta = w.level > level;
      let access = w.ptAccess;
      if (meta && (w.pteLo[w.level]! & PT_DIRTY) === 0) access &= ~ACCESS_W;
      return roleWordOf(level, glevels, quadrant, meta, 0, access);
    }
    if (w.level > level) {
      const lo = w.pteLo[w.level]!;
      const hugepageAccess = (lo & PT_WRITABLE ? 1 : 0) | (lo & PT_USER ? 2 : 0);
      return roleWordOf(level, glevels, quadrant, true, hugepageAccess);
    }
    return roleWordOf(level, glevels, quadrant, false, 0);
  }

  /** The leaf shadow entry for a successful walk (FNAME(set_pte) / set_pde with set_pte_common). */
  private leafSpte(w: GuestWalk): number {
    const lo = w.pteLo[w.level]!;
    let flags = PT_PRESENT | (lo & (PT_ACCESSED | PT_DIRTY));
    if (w.accU) flags |= PT_USER;
    if (w.accW && (lo & PT_DIRTY) !== 0 && !this.shadow.isShadowed(w.gfn)) flags |= PT_WRITABLE;
    return makeSpte(hostFrameOf(w.gfn), flags, this.mode.hasNx && w.leafNx);
  }

  /**
   * 2008's mmu_set_spte: W, U and X from pte_access (W only where the guest
   * leaf is dirty and its target frame is not shadowed), NX where X is not.
   */
  private leafSpte2008(w: GuestWalk): number {
    const lo = w.pteLo[w.level]!;
    const a = w.pteAccess(this.mode);
    let flags = PT_PRESENT | (lo & (PT_ACCESSED | PT_DIRTY));
    if (a & ACCESS_U) flags |= PT_USER;
    if (a & ACCESS_W && (lo & PT_DIRTY) !== 0 && !this.shadow.isShadowed(w.gfn)) flags |= PT_WRITABLE;
    return makeSpte(hostFrameOf(w.gfn), flags, this.mode.hasNx && (a & ACCESS_X) === 0);
  }

  /**
   * A user write to a shadowed frame (fix_write_pf): user code does not
   * write page tables, so every shadow page of the frame is zapped, newest
   * first (kvm_mmu_lookup_page in a loop). A root in use stays keyed and
   * shadowed, and 2007's loop would find it forever: each page is zapped
   * once and the loop is reported as a hang.
   */
  private unshadow(gfn: number, leaf: ShadowPage, index: number): void {
    const rec = this.shadow.rec;
    const fn = this.fname('fix_write_pf');
    rec?.enter(fn, `user write to gfn ${hex(gfn)}, a shadowed frame: unshadow it`);
    this.shadow.stats.unshadowed++;
    const list = this.shadow.hash.get(gfn) ?? [];
    const pages: ShadowPage[] = [];
    for (let k = list.length - 1; k >= 0; k--) if (!list[k]!.role.metaphysical) pages.push(list[k]!);
    let kept: ShadowPage | null = null;
    for (const p of pages) {
      this.shadow.zapPage(p, 'user write: not a page table any more');
      if (p.alive && kept === null) kept = p;
    }
    if (kept !== null) {
      this.fillWhy = FillWhy.RootKept;
      this.hang('unshadow', fn, `${fn} would loop forever: the user write to gfn ${hex(gfn)} unshadows it, but ${kept.describe()} is a root in use, stays keyed, and kvm_mmu_lookup_page finds it again`);
    }
    const spte = leaf.entry(index);
    if (leaf.alive && spte !== 0 && !this.shadow.isShadowed(gfn)) {
      // Entries are exact numbers above 2^32 (bits.ts): add W, never `|` (ToInt32 would drop the frame's high bits and NX).
      this.shadow.setSpte(leaf, index, spteFlags(spte) & PT_WRITABLE ? spte : spte + PT_WRITABLE);
      if (rec) rec.step('set_pte', `leaf spte in ${leaf.describe()} [${index}] made writable`).sptes = [{ page: leaf.uid, index }];
    } else if (kept === null) {
      this.fillWhy = FillWhy.Unshadowed;
    }
    rec?.leave();
  }

  // -------------------------------------------------------------------------
  // Stores through the direct map

  private storeLanded(gpa: number, lo: number, hi: number, size: number, hasValue: boolean): void {
    if (hasValue) this.mem.writeLoHi(gpa, lo, hi, size);
  }

  /** A store to guest-physical memory (`pte`, `store`): exits only where the frame is shadowed. */
  guestStore(vcpu: VCpu, gpa: number, lo: number, hi: number, size: number): void {
    const gfn = Math.floor(gpa / PAGE_SIZE);
    const trapped = this.shadow.isShadowed(gfn);
    const s = this.storeInfo;
    s.gpa = gpa;
    s.size = size;
    s.trapped = trapped;
    this.store = s;
    if (!trapped) {
      this.mem.writeLoHi(gpa, lo, hi, size);
      return;
    }
    const rec = this.shadow.rec;
    rec?.enter(this.fname('page_fault'), `VM exit: write to ${hex(gpa)}, in a write-protected guest page table (gfn ${hex(gfn)}): emulate it`);
    this.reclaim();
    this.mem.writeLoHi(gpa, lo, hi, size);
    if (this.shadow.isShadowed(gfn)) {
      // Still shadowed after the reclaim: the store is emulated.
      this.countExit('page-fault', 'emulate');
      this.pteWrite(vcpu, gpa, size);
    } else {
      // The exit's own reclaim zapped every shadow page of the frame: nothing to emulate; the
      // direct map is made writable and the guest's store completes on the retry.
      rec?.step(this.fname('page_fault'), `reclaim unshadowed gfn ${hex(gfn)}: nothing to emulate, the store completes on the retry`);
      this.countExit('page-fault', 'fill');
      vcpu.lastPtWriteCount = 0;
    }
    rec?.leave();
  }

  /** kvm_mmu_pte_write: the store has landed; fix up every shadow page of its frame. */
  pteWrite(vcpu: VCpu, gpa: number, bytes: number): void {
    const rec = this.shadow.rec;
    const gfn = Math.floor(gpa / PAGE_SIZE);
    const offset = gpa & PAGE_MASK;
    if (gfn === vcpu.lastPtWriteGfn) vcpu.lastPtWriteCount++;
    else {
      vcpu.lastPtWriteGfn = gfn;
      vcpu.lastPtWriteCount = 1;
    }
    const flooded = vcpu.lastPtWriteCount >= 3;
    if (flooded) this.shadow.stats.floods++;
    rec?.enter('kvm_mmu_pte_write', `gpa ${hex(gpa)}, ${bytes} byte${bytes === 1 ? '' : 's'}; write ${vcpu.lastPtWriteCount} in a row to gfn ${hex(gfn)}${flooded ? ': flooded' : ''}`);
    // The new entry as the guest wrote it (read back: the store has landed).
    const entryGpa = gpa - (gpa & (this.mode.entrySize - 1));
    const newLo = this.mode.entrySize === 8 ? this.mem.read64(entryGpa) : this.mem.read32(entryGpa);
    const newHi = this.mode.entrySize === 8 ? this.mem.hi : 0;
    const pages = this.shadow.hash.get(gfn);
    // Backwards: zapping a page removes it from this list (and nothing else).
    for (let k = pages ? pages.length - 1 : -1; k >= 0; k--) {
      const page = pages![k]!;
      if (page.role.metaphysical || !page.alive) continue;
      const pteSize = page.role.glevels === 2 ? 4 : 8;
      const misaligned = ((offset ^ (offset + bytes - 1)) & ~(pteSize - 1)) !== 0 || bytes < 4;
      if (misaligned || flooded) {
        if (flooded) this.floodZapped = true;
        this.shadow.zapPage(page, misaligned ? `misaligned ${bytes}-byte store at offset ${hex(offset)}` : 'write flood: it may no longer be a page table');
        continue;
      }
      let pageOffset = offset;
      let npte = 1;
      if (page.role.glevels === 2) {
        pageOffset <<= 1; // 32 → 64
        if (page.role.level === 2) {
          // A 32-bit pde maps 4 MiB, a shadow pde 2 MiB: double the offset again, two ptes.
          pageOffset &= ~7;
          pageOffset <<= 1;
          npte = 2;
        }
        const quadrant = pageOffset >> 12;
        pageOffset &= 0xfff;
        if (quadrant !== page.role.quadrant) continue;
      }
      const first = pageOffset >> 3;
      for (let j = 0; j < npte; j++) {
        this.zapPte(page, first + j);
        this.policy.newPte(this.shadow, this.mode, page, first + j, newLo, newHi, bytes);
      }
    }
    rec?.leave();
  }

  /** mmu_pte_write_zap_pte: clears one shadow entry (a child page loses this parent link). */
  private zapPte(page: ShadowPage, index: number): void {
    const old = page.entry(index);
    if (old === 0) {
      this.shadow.rec?.step('mmu_pte_write_zap_pte', `${page.describe()} [${index}] was not present`);
      return;
    }
    if (page.hasChildren) {
      const child = page.child(index);
      if (child) child.removeParent(page, index);
      page.storeChild(index, null);
    }
    this.shadow.setSpte(page, index, 0);
    this.shadow.stats.sptesZapped++;
    const rec = this.shadow.rec;
    if (rec) rec.step('mmu_pte_write_zap_pte', `${page.describe()} [${index}]: spte ${hex(old)} zapped`).sptes = [{ page: page.uid, index }];
  }

  // -------------------------------------------------------------------------
  // CR3

  /** new_cr3: one exit; the old roots are released (mmu_free_roots), then reclaim runs, then the new roots are found or built. */
  loadCr3(vcpu: VCpu, cr3: number): void {
    const rec = this.shadow.rec;
    rec?.enter('new_cr3', `VM exit: CR3 load of ${hex(cr3)} on vCPU ${vcpu.id}`);
    this.countExit('cr3');
    this.freeRoots(vcpu);
    this.reclaim();
    this.setCr3(vcpu, cr3);
    this.allocRoots(vcpu);
    rec?.leave();
  }

  /** Sets CR3 and, in mode pae, loads the PDPTEs from guest memory, as hardware does. */
  setCr3(vcpu: VCpu, cr3: number): void {
    vcpu.cr3 = cr3;
    if (this.mode.name === 'pae') {
      for (let i = 0; i < 4; i++) {
        vcpu.pdpteLo[i] = this.mem.read32(cr3 + 8 * i);
        vcpu.pdpteHi[i] = this.mem.read32(cr3 + 8 * i + 4);
      }
    }
  }

  /** mmu_free_roots */
  freeRoots(vcpu: VCpu): void {
    if (vcpu.root) this.shadow.putRoot(vcpu.root);
    vcpu.root = null;
    for (let i = 0; i < 4; i++) {
      const p = vcpu.paeRoot[i];
      if (p) this.shadow.putRoot(p);
      vcpu.paeRoot[i] = null;
    }
  }

  /** Roots have access W U X under `access` (designs.md); 2007's roles have none. */
  private get rootAccess(): number {
    return this.design === 'access' ? ACCESS_ALL : -1;
  }

  /** mmu_alloc_roots */
  allocRoots(vcpu: VCpu): void {
    const gfn = Math.floor(vcpu.cr3 / PAGE_SIZE);
    const glevels = this.mode.levels;
    if (this.mode.shadowLevels === 4) {
      const p = this.shadow.getPage(gfn, { level: 4, glevels, quadrant: 0, metaphysical: false, hugepageAccess: 0, access: this.rootAccess, nested: false }, null, 0);
      p.rootCount++;
      vcpu.root = p;
      return;
    }
    for (let i = 0; i < 4; i++) {
      let rootGfn = gfn;
      if (this.mode.name === 'pae') {
        if ((vcpu.pdpteLo[i]! & PT_PRESENT) === 0) continue;
        rootGfn = entryFrame(this.mode, vcpu.pdpteLo[i]!, vcpu.pdpteHi[i]!);
      }
      const p = this.shadow.getPage(rootGfn, { level: 2, glevels, quadrant: glevels === 2 ? i : 0, metaphysical: false, hugepageAccess: 0, access: this.rootAccess, nested: false }, null, 0);
      p.rootCount++;
      vcpu.paeRoot[i] = p;
    }
  }
}

/** `write of 0x400000 by user` (or without the privilege). */
export function describeAccess(kind: AccessKind, va: number, user?: boolean): string {
  return `${kind === ACC_WRITE ? 'write' : kind === ACC_EXEC ? 'fetch' : 'read'} of ${hex(va)}${user === undefined ? '' : ` by ${user ? 'user' : 'kernel'}`}`;
}

/** A recorded access as flag names (`W U`, `-`). */
export function describeRecordedAccess(acc: number): string {
  const names = [acc & ACC_REC_W ? 'W' : '', acc & ACC_REC_U ? 'U' : ''].filter(Boolean);
  return names.length ? names.join(' ') : '-';
}

/** `P W U A D NX → host frame 0x...` */
export function describeSpte(spte: number): string {
  if (spte === 0) return 'not present';
  return `${flagNames(spteFlags(spte), spteNx(spte)).join(' ')} → host frame ${hex(spteFrame(spte))}`;
}
