// Shadow pages, shared by all vCPUs: the hash by guest frame and role, parent
// links, the reverse map, write protection, zapping, reclaim and snapshots.
// Each function is one rule of KVM's 2007 mmu.c and carries its name. One
// page, its entries and its image: shadow-page.ts.

import {
  HOST_FRAME_OFFSET,
  PT_ACCESSED,
  PT_PRESENT,
  PT_USER,
  PT_WRITABLE,
  hex,
  makeSpte,
  spteFlags,
  spteFrame,
} from './bits';
import { PT64_ENT_PER_PAGE, ShadowPage, roleOfWord, roleWord, takeFreshImageBytes, type PageImage, type Role } from './shadow-page';
import type { StepRecorder } from './steps';

export * from './shadow-page';

/** KVM_MIN_FREE_MMU_PAGES and KVM_REFILL_PAGES of 2007. */
export const MIN_FREE_PAGES = 5;
export const REFILL_PAGES = 25;

export interface RmapEntry {
  page: ShadowPage;
  index: number;
}

export interface ShadowStats {
  pagesCreated: number;
  pagesZapped: number;
  sptesZapped: number;
  sptesUpdated: number;
  floods: number;
  unshadowed: number;
  reclaimed: number;
  overLimit: number;
}

export function emptyShadowStats(): ShadowStats {
  return { pagesCreated: 0, pagesZapped: 0, sptesZapped: 0, sptesUpdated: 0, floods: 0, unshadowed: 0, reclaimed: 0, overLimit: 0 };
}

/** A shadow entry written during the current event (for the audit and the debugger's marks). */
export interface SpteChange {
  page: ShadowPage;
  index: number;
  old: number;
  now: number;
}

/** Host frame of guest frame g. */
export function hostFrameOf(gfn: number): number {
  return gfn + HOST_FRAME_OFFSET;
}

/** Non-leaf shadow entries point to the child page with P W U A. */
export function linkSpte(child: ShadowPage): number {
  return makeSpte(child.hostFrame, PT_PRESENT | PT_WRITABLE | PT_USER | PT_ACCESSED, false);
}

/** The shadow each snapshot was taken of (restored in place there, rebuilt whole elsewhere). */
const snapshotOwners = new WeakMap<ShadowSnapshot, ShadowMmu>();

export class ShadowMmu {
  /** kvm->mmu_page_hash: guest frame → its shadow pages (any role). */
  readonly hash = new Map<number, ShadowPage[]>();
  /** Guest frame → number of non-metaphysical pages keyed by it (shadowed ⇔ > 0). */
  private readonly shadowedCount = new Map<number, number>();
  /**
   * The reverse map: guest frame → the present leaf shadow entries that map
   * it, each as its page's uid × 512 + its index (numbers: a replay adds and
   * removes millions; `rmapEntries` gives them as pages and indexes). A frame
   * is mostly mapped once: one entry is held as the number itself, several
   * as an array, none as -1 (a frame is mapped, unmapped and mapped again all
   * the time, and deleting and adding its key would churn the Map).
   */
  private readonly rmapKeys = new Map<number, number | number[]>();
  /** Live pages by uid. */
  private readonly byUid = new Map<number, ShadowPage>();
  oldest: ShadowPage | null = null;
  youngest: ShadowPage | null = null;
  alive = 0;
  nextUid = 1;
  stats: ShadowStats = emptyShadowStats();
  /**
   * The shadow entries written since the last `beginEvent`, as columns
   * reused by every event (a replay writes millions): entry k of
   * `changeCount` was entry `changeIndex(k)` of `changePage(k)`, written from
   * `changeOld(k)` to `changeNow(k)`. `changes` gives them as records.
   */
  changeCount = 0;
  private chPage: ShadowPage[] = [];
  private chIndex = new Uint16Array(16);
  private chOld = new Float64Array(16);
  private chNow = new Float64Array(16);
  /** Pages allocated and zapped since the last `beginEvent`. */
  created: ShadowPage[] = [];
  zapped: ShadowPage[] = [];
  rec: StepRecorder | null = null;
  /** Row index of the event being replayed. */
  eventIndex = -1;

  constructor(public limit: number) {}

  beginEvent(index: number): void {
    this.eventIndex = index;
    this.changeCount = 0;
    if (this.created.length) this.created = [];
    if (this.zapped.length) this.zapped = [];
  }

  isShadowed(gfn: number): boolean {
    return (this.shadowedCount.get(gfn) ?? 0) > 0;
  }

  get free(): number {
    return this.limit - this.alive;
  }

  /** Every live page, oldest first. */
  pages(): ShadowPage[] {
    const out: ShadowPage[] = [];
    for (let p = this.oldest; p; p = p.younger) out.push(p);
    return out;
  }

  /** kvm_mmu_lookup_page: a non-metaphysical page of this frame. */
  lookupPage(gfn: number): ShadowPage | undefined {
    const list = this.hash.get(gfn);
    if (!list) return undefined;
    for (const p of list) if (!p.role.metaphysical) return p;
    return undefined;
  }

  // -------------------------------------------------------------------------
  // Entries

  /** Writes a shadow entry, keeping the reverse map and the change log. */
  setSpte(page: ShadowPage, index: number, value: number): void {
    const old = page.entry(index);
    if (old === value) return;
    if (page.level === 1) {
      if (old !== 0) this.rmapRemove(page, index, spteFrame(old) - HOST_FRAME_OFFSET);
      if (value !== 0) this.rmapAdd(page, index, spteFrame(value) - HOST_FRAME_OFFSET);
    }
    page.storeEntry(index, value);
    this.logChange(page, index, old, value);
  }

  private logChange(page: ShadowPage, index: number, old: number, now: number): void {
    const k = this.changeCount++;
    if (k === this.chOld.length) {
      const n = 2 * k;
      this.chIndex = grown(this.chIndex, new Uint16Array(n));
      this.chOld = grown(this.chOld, new Float64Array(n));
      this.chNow = grown(this.chNow, new Float64Array(n));
    }
    this.chPage[k] = page;
    this.chIndex[k] = index;
    this.chOld[k] = old;
    this.chNow[k] = now;
  }

  changePage(k: number): ShadowPage {
    return this.chPage[k]!;
  }
  changeIndex(k: number): number {
    return this.chIndex[k]!;
  }
  changeOld(k: number): number {
    return this.chOld[k]!;
  }
  changeNow(k: number): number {
    return this.chNow[k]!;
  }

  /** The shadow entries written since the last `beginEvent`, in order, as records (built on each call). */
  get changes(): SpteChange[] {
    const out: SpteChange[] = [];
    for (let k = 0; k < this.changeCount; k++) out.push({ page: this.chPage[k]!, index: this.chIndex[k]!, old: this.chOld[k]!, now: this.chNow[k]! });
    return out;
  }

  /** False under `tdp`: nested entries cleared by a zap are not shadow ptes (designs.md, "Counting"). */
  countSptes = true;
  /**
   * About the bytes the last snapshot added of its own: its list of pages and
   * the images made for it (an image of a page that did not change since the
   * snapshot before is that one's, shared). What a debugger that keeps
   * snapshots counts against its budget.
   */
  get lastSnapshotOwnBytes(): number {
    return this.lastSnapshotBytes;
  }
  private lastSnapshotBytes = 0;

  /** How many restores so far (a cache over the pages, such as TdpMmu's, is stale after one). */
  restores = 0;

  /** Clears a present entry and counts it (every present entry cleared anywhere counts). */
  private clearSpte(page: ShadowPage, index: number): void {
    if (page.entry(index) === 0) return;
    this.setSpte(page, index, 0);
    if (this.countSptes) this.stats.sptesZapped++;
  }

  private rmapAdd(page: ShadowPage, index: number, gfn: number): void {
    const key = page.uid * PT64_ENT_PER_PAGE + index;
    const held = this.rmapKeys.get(gfn);
    if (held === undefined || held === -1) this.rmapKeys.set(gfn, key);
    else if (typeof held === 'number') this.rmapKeys.set(gfn, [held, key]);
    else held.push(key);
  }

  private rmapRemove(page: ShadowPage, index: number, gfn: number): void {
    const held = this.rmapKeys.get(gfn);
    if (held === undefined) return;
    const key = page.uid * PT64_ENT_PER_PAGE + index;
    if (typeof held === 'number') {
      if (held === key) this.rmapKeys.set(gfn, -1);
      return;
    }
    for (let i = 0; i < held.length; i++) {
      if (held[i] === key) {
        held[i] = held[held.length - 1]!;
        held.pop();
        return;
      }
    }
  }

  /** The reverse map's keys for `gfn`, in order. */
  private rmapKeysOf(gfn: number): number[] {
    const held = this.rmapKeys.get(gfn);
    return held === undefined || held === -1 ? [] : typeof held === 'number' ? [held] : held.slice();
  }

  /** The present leaf shadow entries that map `gfn`, in reverse-map order. */
  rmapEntries(gfn: number): RmapEntry[] {
    return this.rmapKeysOf(gfn).map((key) => this.rmapEntry(key));
  }

  /** Every frame that some present leaf shadow entry maps, with those entries. */
  *rmapAll(): IterableIterator<[number, RmapEntry[]]> {
    for (const gfn of this.rmapKeys.keys()) {
      const list = this.rmapEntries(gfn);
      if (list.length !== 0) yield [gfn, list];
    }
  }

  /** A reverse-map key's page and index (its page is alive: zapping a page clears its entries first). */
  private rmapEntry(key: number): RmapEntry {
    const index = key % PT64_ENT_PER_PAGE;
    return { page: this.byUid.get((key - index) / PT64_ENT_PER_PAGE)!, index };
  }

  /** rmap_write_protect: every leaf shadow entry that maps `gfn` loses W. */
  rmapWriteProtect(gfn: number): void {
    let n = 0;
    for (const e of this.rmapEntries(gfn)) {
      const v = e.page.entry(e.index);
      if (spteFlags(v) & PT_WRITABLE) {
        this.setSpte(e.page, e.index, v - PT_WRITABLE);
        n++;
      }
    }
    this.rec?.step('rmap_write_protect', `gfn ${hex(gfn)}: ${n} writable shadow pte${n === 1 ? '' : 's'} made read-only`);
  }

  // -------------------------------------------------------------------------
  // Pages

  /** Links `child` under the parent entry (mmu_page_add_parent_pte) and writes the entry. */
  link(parent: ShadowPage, index: number, child: ShadowPage): void {
    child.addParent(parent, index);
    parent.storeChild(index, child);
    this.setSpte(parent, index, linkSpte(child));
  }

  /**
   * kvm_mmu_get_page: the page of this frame and role if it exists, otherwise
   * a new one (write-protecting its frame at once unless metaphysical). Links
   * it under `parent` when one is given.
   */
  getPage(gfn: number, role: Role, parent: ShadowPage | null, parentIndex: number): ShadowPage {
    return this.getPageByWord(gfn, roleWord(role), parent, parentIndex);
  }

  /** kvm_mmu_get_page with the role given as its word (`roleWord`): what fetch asks, without building a role to look one up. */
  getPageByWord(gfn: number, word: number, parent: ShadowPage | null, parentIndex: number): ShadowPage {
    const list = this.hash.get(gfn);
    if (list) {
      for (const p of list) {
        if (p.word === word) {
          this.rec?.step('kvm_mmu_get_page', `found ${p.describe()}`);
          if (parent) this.link(parent, parentIndex, p);
          return p;
        }
      }
    }
    const role = roleOfWord(word);
    const p = new ShadowPage(this.nextUid++, gfn, role, this.eventIndex);
    this.rec?.enter('kvm_mmu_get_page', `allocated ${p.describe()}`);
    if (list) list.push(p);
    else this.hash.set(gfn, [p]);
    this.appendYoungest(p);
    this.byUid.set(p.uid, p);
    this.alive++;
    this.stats.pagesCreated++;
    this.created.push(p);
    if (this.alive > this.limit) this.stats.overLimit = Math.max(this.stats.overLimit, this.alive - this.limit);
    if (!role.metaphysical) {
      this.shadowedCount.set(gfn, (this.shadowedCount.get(gfn) ?? 0) + 1);
      this.rmapWriteProtect(gfn);
    }
    this.rec?.leave();
    if (parent) this.link(parent, parentIndex, p);
    return p;
  }

  private appendYoungest(p: ShadowPage): void {
    p.older = this.youngest;
    p.younger = null;
    if (this.youngest) this.youngest.younger = p;
    else this.oldest = p;
    this.youngest = p;
  }

  private unlinkAge(p: ShadowPage): void {
    if (p.older) p.older.younger = p.younger;
    else this.oldest = p.younger;
    if (p.younger) p.younger.older = p.older;
    else this.youngest = p.older;
    p.older = p.younger = null;
  }

  /**
   * kvm_mmu_zap_page: clears every parent entry that points to the page,
   * drops its children's links, clears its entries, and frees it unless it is
   * a root in use (which stays, empty, keyed and shadowed, and becomes the
   * youngest page).
   */
  zapPage(page: ShadowPage, why: string): void {
    this.rec?.enter('kvm_mmu_zap_page', `${page.describe()}: ${why}`);
    this.stats.pagesZapped++;
    this.zapped.push(page);
    // kvm_mmu_unlink_parents
    while (page.parents.length) {
      const { page: parent, index } = page.popParent()!;
      parent.storeChild(index, null);
      this.clearSpte(parent, index);
    }
    // kvm_mmu_page_unlink_children
    for (let i = page.nextEntry(0); i >= 0; i = page.nextEntry(i + 1)) {
      if (page.hasChildren) {
        const child = page.child(i);
        if (child) child.removeParent(page, i);
        page.storeChild(i, null);
      }
      this.clearSpte(page, i);
    }
    if (page.rootCount === 0) {
      this.freePage(page);
    } else {
      this.unlinkAge(page);
      this.appendYoungest(page);
    }
    this.rec?.leave();
  }

  private freePage(page: ShadowPage): void {
    const list = this.hash.get(page.gfn)!;
    list.splice(list.indexOf(page), 1);
    if (list.length === 0) this.hash.delete(page.gfn);
    if (!page.role.metaphysical) {
      const n = this.shadowedCount.get(page.gfn)! - 1;
      if (n === 0) this.shadowedCount.delete(page.gfn);
      else this.shadowedCount.set(page.gfn, n);
    }
    this.unlinkAge(page);
    this.byUid.delete(page.uid);
    page.alive = false;
    page.release();
    this.alive--;
  }

  /** Releases a root reference (mmu_free_roots). */
  putRoot(page: ShadowPage): void {
    page.rootCount--;
  }

  /**
   * kvm_mmu_free_some_pages: when fewer than 5 pages are free, zaps the
   * oldest page again and again until 25 are free. The oldest page may be a
   * root in use: it is emptied and becomes the youngest, not freed (as 2007
   * did). Where the oldest page is a root in use that this reclaim has
   * already emptied (only roots in use are left), or no page is left, 2007
   * looped forever: the reclaim stops and returns true (a hang).
   */
  freeSomePages(): boolean {
    if (this.free >= MIN_FREE_PAGES) return false;
    const rec = this.rec;
    rec?.enter('kvm_mmu_free_some_pages', `${this.free} of ${this.limit} shadow pages free (fewer than ${MIN_FREE_PAGES}): zapping the oldest until ${REFILL_PAGES} are free`);
    let emptied: Set<ShadowPage> | null = null;
    let hung = false;
    while (this.free < REFILL_PAGES) {
      const p = this.oldest;
      if (p === null || emptied?.has(p)) {
        hung = true;
        rec?.step(
          'kvm_mmu_free_some_pages',
          p === null
            ? `no shadow page is left and only ${this.free} are free: 2007 would loop here forever (hang)`
            : `only roots in use are left, each emptied once, and ${this.free} pages are free: 2007 would loop here forever (hang)`,
        );
        break;
      }
      this.stats.reclaimed++;
      if (p.rootCount > 0) {
        (emptied ??= new Set()).add(p);
        this.zapPage(p, 'reclaimed: the oldest page, a root in use: emptied and made the youngest');
      } else this.zapPage(p, 'reclaimed: the oldest page');
    }
    rec?.leave();
    return hung;
  }

  // -------------------------------------------------------------------------
  // Snapshots

  /**
   * Every live page's image, oldest first. A page that did not change since
   * the last snapshot (or since the restore that made it) gives the same image
   * object as then, so the cost is the pages that changed, and snapshots share
   * what did not change.
   */
  snapshot(): ShadowSnapshot {
    const pages: PageImage[] = [];
    takeFreshImageBytes();
    for (let p = this.oldest; p; p = p.younger) pages.push(p.snapshotImage());
    const snap: ShadowSnapshot = { pages, nextUid: this.nextUid, stats: { ...this.stats } };
    this.lastSnapshotBytes = 64 + 8 * pages.length + takeFreshImageBytes();
    snapshotOwners.set(snap, this);
    return snap;
  }

  /**
   * Puts the shadow back as it was at snapshot `s`. A snapshot of this shadow
   * is restored in place: pages that hold their image already stay as they
   * are (a debugger steps back to a checkpoint where most pages did not
   * change), changed pages are reloaded from their images, pages made since
   * are dropped and pages freed since are built again. Any other snapshot is
   * rebuilt whole.
   */
  restore(s: ShadowSnapshot): void {
    this.restores++;
    if (snapshotOwners.get(s) === this) this.restoreInPlace(s);
    else this.restoreWhole(s);
  }

  /** What a restore sets whichever way it goes: the counters, and no event under way. */
  private restoreCounters(s: ShadowSnapshot): void {
    this.nextUid = s.nextUid;
    this.stats = { ...s.stats };
    this.changeCount = 0;
    this.created = [];
    this.zapped = [];
  }

  private restoreInPlace(s: ShadowSnapshot): void {
    this.restoreCounters(s);
    const byUid = this.byUid;
    const keep = new Set<number>();
    for (const img of s.pages) keep.add(img.uid);
    // Pages made since the snapshot: out of every table.
    const gone: ShadowPage[] = [];
    for (const p of byUid.values()) if (!keep.has(p.uid)) gone.push(p);
    const touched = new Set<number>();
    for (const p of gone) {
      this.dropLeafEntries(p);
      byUid.delete(p.uid);
      if (!p.role.metaphysical) this.countShadowed(p.gfn, -1);
      touched.add(p.gfn);
      p.alive = false;
      p.release();
    }
    // Pages freed since (or never made in this line of events): built again, empty for now.
    const load: [ShadowPage, PageImage][] = [];
    const built = new Map<number, ShadowPage[]>();
    for (const img of s.pages) {
      let p = byUid.get(img.uid);
      if (p === undefined) {
        p = new ShadowPage(img.uid, img.gfn, img.role, img.bornAt);
        byUid.set(img.uid, p);
        if (!p.role.metaphysical) this.countShadowed(p.gfn, 1);
        touched.add(p.gfn);
        const same = built.get(p.gfn);
        if (same) same.push(p);
        else built.set(p.gfn, [p]);
        load.push([p, img]);
      } else if (!p.holds(img)) {
        this.dropLeafEntries(p);
        p.clearForRestore();
        load.push([p, img]);
      }
      p.rootCount = img.rootCount;
    }
    // Hash lists of the frames whose pages came or went, in allocation order (see restoreWhole).
    for (const gfn of touched) {
      const list = (this.hash.get(gfn) ?? []).filter((p) => p.alive).concat(built.get(gfn) ?? []);
      list.sort((a, b) => a.uid - b.uid);
      if (list.length) this.hash.set(gfn, list);
      else this.hash.delete(gfn);
    }
    // Age order as the snapshot lists it.
    this.oldest = this.youngest = null;
    for (const img of s.pages) this.appendYoungest(byUid.get(img.uid)!);
    this.alive = s.pages.length;
    for (const [p, img] of load) this.loadImage(p, img);
  }

  /** Takes a page's present leaf entries out of the reverse map. */
  private dropLeafEntries(p: ShadowPage): void {
    if (p.hasChildren) return;
    for (let i = p.nextEntry(0); i >= 0; i = p.nextEntry(i + 1)) this.rmapRemove(p, i, spteFrame(p.entry(i)) - HOST_FRAME_OFFSET);
  }

  private countShadowed(gfn: number, d: number): void {
    const n = (this.shadowedCount.get(gfn) ?? 0) + d;
    if (n === 0) this.shadowedCount.delete(gfn);
    else this.shadowedCount.set(gfn, n);
  }

  /** Fills an empty page from its image (every page the image names is in byUid). */
  private loadImage(p: ShadowPage, img: PageImage): void {
    const byUid = this.byUid;
    const { n, data } = img;
    const kids = p.hasChildren;
    for (let k = 0; k < n; k++) {
      const i = data[k]! & (PT64_ENT_PER_PAGE - 1);
      const v = data[n + k]!;
      p.storeEntry(i, v);
      p.storeAccess(i, data[k]! >>> 9);
      if (kids) {
        const c = data[2 * n + k]!;
        p.storeChild(i, c ? byUid.get(c)! : null);
      } else {
        this.rmapAdd(p, i, spteFrame(v) - HOST_FRAME_OFFSET);
      }
    }
    for (let j = kids ? 3 * n : 2 * n; j < data.length; j++) {
      const key = data[j]!;
      const index = key % PT64_ENT_PER_PAGE;
      p.addParent(byUid.get((key - index) / PT64_ENT_PER_PAGE)!, index);
    }
    // The page holds exactly the image now.
    p.restoredFrom(img);
  }

  private restoreWhole(s: ShadowSnapshot): void {
    this.hash.clear();
    this.shadowedCount.clear();
    this.rmapKeys.clear();
    this.byUid.clear();
    this.oldest = this.youngest = null;
    this.alive = 0;
    this.restoreCounters(s);
    const byUid = this.byUid;
    for (const img of s.pages) {
      const p = new ShadowPage(img.uid, img.gfn, img.role, img.bornAt);
      p.rootCount = img.rootCount;
      byUid.set(img.uid, p);
      if (!p.role.metaphysical) this.shadowedCount.set(p.gfn, (this.shadowedCount.get(p.gfn) ?? 0) + 1);
      this.appendYoungest(p);
      this.alive++;
    }
    // Hash lists in allocation order, as getPage builds them (the age order differs once a
    // root in use has been zapped, and kvm_mmu_pte_write zaps a frame's pages in list order).
    for (const p of [...byUid.values()].sort((a, b) => a.uid - b.uid)) {
      const list = this.hash.get(p.gfn);
      if (list) list.push(p);
      else this.hash.set(p.gfn, [p]);
    }
    for (const img of s.pages) this.loadImage(byUid.get(img.uid)!, img);
  }

  /** The live page with this uid. */
  pageByUid(uid: number): ShadowPage | undefined {
    return this.byUid.get(uid);
  }
}

export interface ShadowSnapshot {
  readonly pages: readonly PageImage[];
  readonly nextUid: number;
  readonly stats: ShadowStats;
}

/** `to` (larger) holding `from`'s elements first. */
function grown<T extends Uint16Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
