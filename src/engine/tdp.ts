// Two-dimensional paging (designs.md, `tdp`): Intel EPT / AMD NPT as KVM
// used them from 2008. The hardware walks the guest's own page tables; a
// nested page table owned by the hypervisor translates every guest-physical
// frame the walk or the access touches. There is no shadow of guest tables,
// nothing is write-protected, and the guest's own faults never exit. The
// first touch of an unmapped frame is an `npt` exit whose handler
// (tdp_page_fault, __direct_map) maps that one frame.
//
// Nested pages live in the same ShadowMmu as shadow pages (the age order,
// reclaim's limits, snapshots and the debugger's views serve both), with a
// role marked `nested` (and metaphysical: a nested page shadows no guest
// table, so no frame becomes write-protected).

import { PAGE_SIZE, PT_ACCESSED, PT_DIRTY, PT_PRESENT, PT_USER, PT_WRITABLE, hex, makeSpte } from './bits';
import type { GuestMemory } from './memory';
import { Mmu, describeAccess, type VCpu } from './mmu';
import type { PagingMode } from './paging';
import type { Policy } from './policy';
import { MIN_FREE_PAGES, REFILL_PAGES, hostFrameOf, roleWordOf, type ShadowMmu, type ShadowPage } from './shadow';
import { ACC_WRITE, WALK_CHECK_PERMS, WALK_SET_BITS, describeErrorCode, walkAddr, type AccessKind } from './walk';

/** Slots of the direct-mapped cache of mapped frames (frame g in slot g mod MAPPED_SLOTS, held as g + 1). */
const MAPPED_SLOTS = 8192;

/** Nested tables are indexed by guest-physical bits 47..12: frames from 2^36 on cannot be mapped. */
export const NPT_FRAME_LIMIT = 2 ** 36;
const NPT_LEVELS = 4;
/** Frames a nested page at `level` covers: 512^(level-1) × 512. */
const coverShift = (level: number): number => 9 * level;

/** The role word of a nested page at `level`. */
export function nestedRoleWord(level: number): number {
  return roleWordOf(level, NPT_LEVELS, 0, true, 0, -1, true);
}

/** The index of guest frame `gfn` in a nested page at `level`. */
function nptIndex(gfn: number, level: number): number {
  return Math.floor(gfn / 2 ** (9 * (level - 1))) & 511;
}

/** The first guest frame a nested page at `level` on the path of `gfn` covers (its key). */
function nptBase(gfn: number, level: number): number {
  if (level === NPT_LEVELS) return 0;
  const span = 2 ** coverShift(level);
  return gfn - (gfn % span);
}

/** A nested leaf: guest frame g at host frame g + 0x100000, full permissions. */
function nptLeaf(gfn: number): number {
  return makeSpte(hostFrameOf(gfn), PT_PRESENT | PT_WRITABLE | PT_USER | PT_ACCESSED | PT_DIRTY, false);
}

export class TdpMmu extends Mmu {
  private readonly rootUid: number;
  /**
   * Frames known to be mapped, in front of the nested walk (an access asks
   * for several frames, almost always mapped). Emptied when reclaim zaps
   * anything and after a restore; a frame missing from it is looked up.
   */
  private readonly mapped = new Float64Array(MAPPED_SLOTS);
  private mappedAt = { zapped: -1, restores: -1 };
  private root: ShadowPage;
  /** Frames mapped by the `npt` exits of the current event: reclaim keeps their paths. */
  private mappedThisEvent: number[] = [];

  constructor(mode: PagingMode, mem: GuestMemory, shadow: ShadowMmu, policy: Policy, vcpus: number) {
    super(mode, mem, shadow, policy, vcpus);
    shadow.countSptes = false;
    // At the start only the root exists (a created page); it is never reclaimed.
    const root = shadow.getPageByWord(0, nestedRoleWord(NPT_LEVELS), null, 0);
    root.rootCount = 1;
    this.rootUid = root.uid;
    this.root = root;
  }

  /** The nested table's root (a restore may have rebuilt it). */
  get nptRoot(): ShadowPage {
    if (!this.root.alive || this.mappedAt.restores !== this.shadow.restores) this.root = this.shadow.pageByUid(this.rootUid)!;
    return this.root;
  }

  override beginEvent(): void {
    super.beginEvent();
    if (this.mappedThisEvent.length) this.mappedThisEvent = [];
  }

  // -------------------------------------------------------------------------
  // The nested table

  /** The nested page at `level` on the path of `gfn`, or null where the path stops above it. */
  nptPage(gfn: number, level: number): ShadowPage | null {
    let page: ShadowPage | null = this.nptRoot;
    for (let l = NPT_LEVELS; l > level && page; l--) page = page.child(nptIndex(gfn, l));
    return page;
  }

  /** npte(GPA, L): the nested entry at level L on the path of the frame; -1 where no table is there. */
  npte(gfn: number, level: number): number {
    if (gfn >= NPT_FRAME_LIMIT) return -1;
    const page = this.nptPage(gfn, level);
    return page === null ? -1 : page.entry(nptIndex(gfn, level));
  }

  isMapped(gfn: number): boolean {
    const sh = this.shadow;
    const at = this.mappedAt;
    if (at.zapped !== sh.stats.pagesZapped || at.restores !== sh.restores) {
      this.mapped.fill(0);
      this.root = sh.pageByUid(this.rootUid)!;
      at.zapped = sh.stats.pagesZapped;
      at.restores = sh.restores;
    }
    const slot = gfn & (MAPPED_SLOTS - 1);
    if (this.mapped[slot] === gfn + 1) return true;
    if (gfn >= NPT_FRAME_LIMIT) return false;
    const leaf = this.nptPage(gfn, 1);
    const yes = leaf !== null && leaf.entry(gfn & 511) !== 0;
    if (yes) this.mapped[slot] = gfn + 1;
    return yes;
  }

  /** __direct_map: maps one guest frame, creating the nested tables on its path (kvm_mmu_get_page). */
  private directMap(gfn: number): void {
    const rec = this.shadow.rec;
    rec?.enter('__direct_map', `map gfn ${hex(gfn)} to host frame ${hex(hostFrameOf(gfn))}`);
    let page = this.nptRoot;
    for (let level = NPT_LEVELS; level > 1; level--) {
      const index = nptIndex(gfn, level);
      page = page.child(index) ?? this.shadow.getPageByWord(nptBase(gfn, level - 1), nestedRoleWord(level - 1), page, index);
    }
    const index = gfn & 511;
    const spte = nptLeaf(gfn);
    this.shadow.setSpte(page, index, spte);
    if (rec) rec.step('mmu_set_spte', `nested leaf ${hex(spte)} in ${page.describe()} [${index}]`).sptes = [{ page: page.uid, index }];
    rec?.leave();
  }

  /** One `npt` exit (tdp_page_fault): reclaim, then map the frame. The guest retries. */
  private nptExit(gfn: number, what: string): boolean {
    if (gfn >= NPT_FRAME_LIMIT) {
      this.error = `guest-physical address ${hex(gfn * PAGE_SIZE)} is 2^48 or more: the nested page table cannot map it`;
      return false;
    }
    const rec = this.shadow.rec;
    rec?.enter('tdp_page_fault', `VM exit: nested page fault on gfn ${hex(gfn)} (${what})`);
    this.countExit('npt', 'map');
    this.reclaimNested();
    this.directMap(gfn);
    this.mappedThisEvent.push(gfn);
    rec?.leave();
    return true;
  }

  /**
   * Reclaim of nested pages (kvm_mmu_free_some_pages with engine.md's
   * limits): the oldest first, never the root, nor a page that maps or lies
   * on the path to a frame an earlier `npt` exit of this event mapped (so an
   * access always completes). Where nothing else is left it stops.
   */
  private reclaimNested(): void {
    const sh = this.shadow;
    if (sh.free >= MIN_FREE_PAGES) return;
    const keep = new Set<ShadowPage>();
    for (const g of this.mappedThisEvent) for (let l = NPT_LEVELS; l >= 1; l--) {
      const p = this.nptPage(g, l);
      if (p) keep.add(p);
    }
    sh.rec?.enter('kvm_mmu_free_some_pages', `${sh.free} of ${sh.limit} pages free (fewer than ${MIN_FREE_PAGES}): zapping the oldest nested pages`);
    let p = sh.oldest;
    while (sh.free < REFILL_PAGES && p) {
      const next: ShadowPage | null = p.younger;
      if (p.rootCount === 0 && !keep.has(p)) {
        sh.stats.reclaimed++;
        sh.zapPage(p, 'reclaimed: the oldest nested page');
      }
      p = next;
    }
    sh.rec?.leave();
  }

  // -------------------------------------------------------------------------
  // Events

  /**
   * The first guest frame the last walk read that is not mapped, in the
   * hardware's order (each guest table on the path, the PAE PDPTEs being
   * registers, then the target frame where the walk succeeded), or -1.
   */
  private firstUnmapped(ok: boolean): number {
    const w = this.walk;
    for (let level = w.top; level >= w.level; level--) {
      if (w.pteGpa[level]! < 0) continue; // a PAE PDPTE: loaded at the last CR3 load
      const g = w.tableGfn[level]!;
      if (!this.isMapped(g)) return g;
    }
    return ok && !this.isMapped(w.gfn) ? w.gfn : -1;
  }

  /**
   * An access: the guest walk (its A and D bits are set as the hardware
   * would, once: a walk repeated after an npt exit finds them set and reads
   * the same path), then the first frame it read that is not mapped costs an
   * npt exit and the guest retries; once every frame is mapped, the store or
   * the #PF (which goes to the guest without an exit).
   */
  override access(vcpu: VCpu, va: number, kind: AccessKind, user: boolean, lo: number, hi: number, size: number, hasValue: boolean): boolean {
    const w = this.walk;
    for (;;) {
      const ok = walkAddr(this.mem, this.mode, vcpu, va, kind, user, WALK_SET_BITS | WALK_CHECK_PERMS, w);
      const g = this.firstUnmapped(ok);
      if (g >= 0) {
        if (!this.nptExit(g, describeAccess(kind, va))) return false;
        continue;
      }
      if (!ok) {
        this.shadow.rec?.step('walk_addr', `the guest walk faults at L${w.level}: #PF ${describeErrorCode(w.errorCode)} goes to the guest without an exit`);
        this.faults++;
        this.fault = w.errorCode;
        return false;
      }
      if (kind === ACC_WRITE && hasValue) this.mem.writeLoHi(w.gpa, lo, hi, size);
      return true;
    }
  }

  /** A store through the guest kernel's direct map: only its frame must be mapped; no trap, no pte-write path. */
  override guestStore(_vcpu: VCpu, gpa: number, lo: number, hi: number, size: number): void {
    const gfn = Math.floor(gpa / PAGE_SIZE);
    if (!this.isMapped(gfn) && !this.nptExit(gfn, `store to ${hex(gpa)}`)) return;
    this.mem.writeLoHi(gpa, lo, hi, size);
    this.store = { gpa, size, trapped: false };
  }

  /** CR3 is not intercepted; in mode pae the PDPTEs are read, so the PDPT's frame must be mapped first. */
  override loadCr3(vcpu: VCpu, cr3: number): void {
    if (this.mode.name === 'pae') {
      const gfn = Math.floor(cr3 / PAGE_SIZE);
      if (!this.isMapped(gfn) && !this.nptExit(gfn, `PDPT load at CR3 ${hex(cr3)}`)) return;
    }
    this.setCr3(vcpu, cr3);
  }

  /** No shadow roots: the nested table serves every vCPU. */
  override allocRoots(): void {}
  override freeRoots(): void {}

  /** There is no shadow: no shadow walk. */
  override shadowTop(): ShadowPage | null {
    return null;
  }
  override shadowLeaf(): number {
    return 0;
  }

  /** Never runs under `tdp` (nothing is write-protected); kept for the type. */
  override pteWrite(): void {}
}
