// Shadow pages, shared by all vCPUs: the hash by guest frame and role, parent
// links, the reverse map, write protection, zapping and reclaim. Each
// function is one rule of KVM's 2007 mmu.c and carries its name.

import {
  HOST_FRAME_OFFSET,
  PT_ACCESSED,
  PT_PRESENT,
  PT_USER,
  PT_WRITABLE,
  SHADOW_FRAME_BASE,
  hex,
  makeSpte,
  spteFlags,
  spteFrame,
} from './bits';
import type { StepRecorder } from './steps';

export const PT64_ENT_PER_PAGE = 512;
/** KVM_MIN_FREE_MMU_PAGES and KVM_REFILL_PAGES of 2007. */
export const MIN_FREE_PAGES = 5;
export const REFILL_PAGES = 25;

/** A shadow page's role (KVM's union kvm_mmu_page_role). */
export interface Role {
  level: number;
  glevels: number;
  quadrant: number;
  metaphysical: boolean;
  /** Metaphysical pages under 2007's policies: the large entry's W and U bits, as W=1, U=2. */
  hugepageAccess: number;
  /**
   * Under `access` (2008, designs.md): the walk's pt_access (W=1, U=2, X=4),
   * part of every page's role; -1 under the 2007 policies, whose roles have no access.
   */
  access: number;
  /** Under `tdp`: a page of the nested page table (keyed by level and the first guest frame it covers). */
  nested: boolean;
}

export function roleWord(r: Role): number {
  return roleWordOf(r.level, r.glevels, r.quadrant, r.metaphysical, r.hugepageAccess, r.access, r.nested);
}

/** A role as one number (the union's word): two roles are the same role when their words are equal. */
export function roleWordOf(level: number, glevels: number, quadrant: number, metaphysical: boolean, hugepageAccess: number, access = -1, nested = false): number {
  return level | (glevels << 3) | (quadrant << 6) | ((metaphysical ? 1 : 0) << 8) | (hugepageAccess << 9) | ((access + 1) << 11) | ((nested ? 1 : 0) << 15);
}

/** Roles by word, one frozen object each: pages of the same role share it. */
const rolesByWord = new Map<number, Role>();

/** The role whose word is `word` (the inverse of `roleWord`). */
export function roleOfWord(word: number): Role {
  let r = rolesByWord.get(word);
  if (r === undefined) {
    r = Object.freeze({
      level: word & 7,
      glevels: (word >>> 3) & 7,
      quadrant: (word >>> 6) & 3,
      metaphysical: ((word >>> 8) & 1) === 1,
      hugepageAccess: (word >>> 9) & 3,
      access: ((word >>> 11) & 15) - 1,
      nested: ((word >>> 15) & 1) === 1,
    });
    rolesByWord.set(word, r);
  }
  return r;
}

/** `W U X`, `-`: an access (W=1, U=2, X=4) as flag names. */
export function accessNames(a: number): string {
  const n = [a & 1 ? 'W' : '', a & 2 ? 'U' : '', a & 4 ? 'X' : ''].filter(Boolean);
  return n.length ? n.join(' ') : '-';
}

export function describeRole(r: Role): string {
  if (r.nested) return `nested, level ${r.level}`;
  const parts = [`level ${r.level}`, `glevels ${r.glevels}`];
  if (r.glevels === 2) parts.push(`quadrant ${r.quadrant}`);
  if (r.access >= 0) {
    if (r.metaphysical) parts.push('metaphysical');
    parts.push(`access ${accessNames(r.access)}`);
  } else if (r.metaphysical) parts.push(`metaphysical (access ${r.hugepageAccess & 1 ? 'W' : ''}${r.hugepageAccess & 2 ? 'U' : ''}${r.hugepageAccess ? '' : '-'})`);
  return parts.join(', ');
}

export interface ParentLink {
  page: ShadowPage;
  index: number;
}

/**
 * A leaf's recorded access (2007's PT_SHADOW_WRITABLE and PT_SHADOW_USER,
 * kept in the entry's spare bits): what the walk that built it allowed.
 * Kept beside the entry, not in it, so that entries hold only the
 * architectural bits (engine.md, "Shadow entry bits").
 */
export const ACC_REC_W = 1;
export const ACC_REC_U = 2;
/** After the 512 slots of a slot table, a bitmap of the present entries (value ≠ 0): 32 words of 16 bits. */
const PRESENT_WORDS = PT64_ENT_PER_PAGE / 16;
const SLOTS_LENGTH = PT64_ENT_PER_PAGE + PRESENT_WORDS;
/**
 * A page with at most this many slots finds an index by scanning its slots'
 * indexes (no slot table): most shadow pages hold one to a few entries, and
 * a slot table is 1 KB (a million pages of one entry each would hold 1 GB of
 * tables, issue 17.3). Past it, the page gets a table.
 */
export const SMALL_PAGE_SLOTS = 16;

/**
 * The slot tables of freed pages, zeroed, for the next pages: allocating a
 * typed array of this size costs microseconds (its memory lives outside the
 * JS heap), and a replay frees and allocates thousands of pages. Capped: a
 * shadow that shrinks does not keep its tables.
 */
const freeSlots: Uint16Array[] = [];
const FREE_SLOTS_MAX = 256;
/** What a freed page reads through: no entry, no slot. Never written (see `slotFor`). */
const NO_SLOTS = new Uint16Array(SLOTS_LENGTH);
/** What small pages start from (never written: a small page's arrays are replaced by longer copies). */
const EMPTY: number[] = [];
const NO_KIDS: (ShadowPage | null)[] = [];

export class ShadowPage {
  /** Allocation serial: unique for the life of the machine, never reused. */
  readonly uid: number;
  readonly gfn: number;
  readonly role: Role;
  readonly word: number;
  // The 512 entries, sparse (a page mostly holds a few). By slot: `meta`,
  // the entry's index plus 512 × its recorded access (ACC_REC_W |
  // ACC_REC_U, for leaves); `vals`, its value (an exact number, see bits.ts:
  // NX kept at bit 52); and, level > 1, `kids`, the shadow page it points
  // to. A slot, once given, stays with its index. Up to SMALL_PAGE_SLOTS
  // slots an index is found by scanning `meta` (`slots` is null), and the
  // arrays are exactly as long as the slots given (plain arrays: a typed
  // array costs about 200 bytes of its own); past that, `slots` is a table:
  // per index, 0 when the entry never held anything, else 1 + its slot, and
  // after the 512 slots the present entries as a bitmap (entries() and
  // nextEntry() find them in index order without reading all 512).
  private slots: Uint16Array | null = null;
  private meta: number[] = EMPTY;
  private vals: number[] = EMPTY;
  private kids: (ShadowPage | null)[] | null;
  private used = 0;
  private freed = false;
  /** Parent links; most pages have one, held in an array of exactly one (a push would make room for 16). */
  private links: ParentLink[] = [];
  rootCount = 0;
  alive = true;
  /** Age order: allocation order, oldest first. */
  older: ShadowPage | null = null;
  younger: ShadowPage | null = null;
  /** Row index of the event that allocated it (-1 for the roots built before the first event). */
  readonly bornAt: number;
  /**
   * The page's image in the last snapshot (or the one it was restored from),
   * and whether an entry, a child or a parent link changed since; the root
   * count is compared when the next snapshot is taken. An unchanged page's
   * image is reused, so a snapshot costs the pages that changed.
   */
  private image: PageImage | null = null;
  private changed = true;

  constructor(uid: number, gfn: number, role: Role, bornAt: number) {
    this.uid = uid;
    this.gfn = gfn;
    this.role = role;
    this.word = roleWord(role);
    this.kids = role.level > 1 ? (NO_KIDS) : null;
    this.bornAt = bornAt;
  }

  get hostFrame(): number {
    return SHADOW_FRAME_BASE + this.uid;
  }

  get level(): number {
    return this.role.level;
  }

  /** True for level > 1: its present entries point to shadow pages. */
  get hasChildren(): boolean {
    return this.kids !== null;
  }

  /** The entries of parent pages that point to this page (kvm_mmu_page's parent_pte), in the order they were made. */
  get parents(): readonly ParentLink[] {
    return this.links;
  }

  /** 1 + the slot of index i, or 0 when i never held an entry. */
  private slotOf(i: number): number {
    const t = this.slots;
    if (t !== null) return t[i]!;
    const m = this.meta;
    for (let k = 0; k < m.length; k++) if ((m[k]! & (PT64_ENT_PER_PAGE - 1)) === i) return k + 1;
    return 0;
  }

  /** Entry i (0 when not present). */
  entry(i: number): number {
    const s = this.slotOf(i);
    return s === 0 ? 0 : this.vals[s - 1]!;
  }

  /** The recorded access of entry i (ACC_REC_W | ACC_REC_U; meaningful while the entry is present). */
  access(i: number): number {
    const s = this.slotOf(i);
    return s === 0 ? 0 : this.meta[s - 1]! >>> 9;
  }

  /** Records the access of entry i (set with the entry by fetch and update_pte). */
  storeAccess(i: number, a: number): void {
    let s = this.slotOf(i);
    if (s === 0) {
      if (a === 0) return;
      s = this.slotFor(i);
    }
    const m = this.meta[s - 1]!;
    if (m >>> 9 === a) return;
    this.meta[s - 1] = (m & (PT64_ENT_PER_PAGE - 1)) + PT64_ENT_PER_PAGE * a;
    this.changed = true;
  }

  /** Level > 1: the shadow page entry i points to, or null. */
  child(i: number): ShadowPage | null {
    if (this.kids === null) return null;
    const s = this.slotOf(i);
    return s === 0 ? null : this.kids[s - 1]!;
  }

  /**
   * The first index ≥ `from` whose entry is present (≠ 0), or -1. Index order:
   * `for (let i = p.nextEntry(0); i >= 0; i = p.nextEntry(i + 1))` visits what
   * `for (i = 0; i < 512; i++) if (p.entry(i) !== 0)` visits, reading 32 words
   * of a bitmap (or a small page's few slots) instead of 512 entries (an entry
   * cleared or set at or before the current index while iterating does not
   * disturb the loop).
   */
  nextEntry(from: number): number {
    const s = this.slots;
    if (s === null) {
      const m = this.meta;
      const v = this.vals;
      let best = PT64_ENT_PER_PAGE;
      for (let k = 0; k < m.length; k++) {
        const i = m[k]! & (PT64_ENT_PER_PAGE - 1);
        if (i >= from && i < best && v[k] !== 0) best = i;
      }
      return best === PT64_ENT_PER_PAGE ? -1 : best;
    }
    let w = from >>> 4;
    if (w >= PRESENT_WORDS) return -1;
    let bits = s[PT64_ENT_PER_PAGE + w]! & (0xffff << (from & 15));
    while (bits === 0) {
      if (++w === PRESENT_WORDS) return -1;
      bits = s[PT64_ENT_PER_PAGE + w]!;
    }
    return (w << 4) | (31 - Math.clz32(bits & -bits));
  }

  /** The indexes of the present entries, in order. */
  entries(): number[] {
    const out: number[] = [];
    for (let i = this.nextEntry(0); i >= 0; i = this.nextEntry(i + 1)) out.push(i);
    return out;
  }

  /** Stores entry i as is (ShadowMmu.setSpte keeps the reverse map and the change log: use it). */
  storeEntry(i: number, v: number): void {
    let s = this.slotOf(i);
    if (s === 0) {
      if (v === 0) return;
      s = this.slotFor(i);
    }
    this.vals[s - 1] = v;
    const sl = this.slots;
    if (sl !== null) {
      const w = PT64_ENT_PER_PAGE + (i >>> 4);
      if (v === 0) sl[w] = sl[w]! & ~(1 << (i & 15));
      else sl[w] = sl[w]! | (1 << (i & 15));
    }
    this.changed = true;
  }

  /** Level > 1: stores the child of entry i (ShadowMmu.link and the zaps keep the links: use them). */
  storeChild(i: number, c: ShadowPage | null): void {
    let s = this.slotOf(i);
    if (s === 0) {
      if (c === null) return;
      s = this.slotFor(i);
    }
    this.kids![s - 1] = c;
    this.changed = true;
  }

  /** Gives index i (which has none) a slot, empty: returns 1 + the slot. */
  private slotFor(i: number): number {
    if (this.freed) throw new Error(`engine bug: an entry written into ${this.describe()} after it was freed`);
    const k = this.used++;
    if (this.slots === null) {
      // Small: arrays exactly as long as the slots (a push would give them room for 16 more).
      this.meta = this.meta.concat(i);
      this.vals = this.vals.concat(0);
      if (this.kids !== null) this.kids = this.kids.concat(null);
      if (this.used > SMALL_PAGE_SLOTS) this.makeTable();
    } else {
      this.meta.push(i);
      this.vals.push(0);
      this.kids?.push(null);
      this.slots[i] = k + 1;
    }
    return k + 1;
  }

  /** From small to a slot table (the page's slots passed SMALL_PAGE_SLOTS). */
  private makeTable(): void {
    const t = freeSlots.pop() ?? new Uint16Array(SLOTS_LENGTH);
    const m = this.meta;
    for (let k = 0; k < m.length; k++) {
      const i = m[k]! & (PT64_ENT_PER_PAGE - 1);
      t[i] = k + 1;
      if (this.vals[k] !== 0) t[PT64_ENT_PER_PAGE + (i >>> 4)] |= 1 << (i & 15);
    }
    this.slots = t;
  }

  /** Back to small and empty; the slot table, if any, goes back for the next page. */
  private dropEntries(): void {
    const t = this.slots;
    if (t !== null && t !== NO_SLOTS && freeSlots.length < FREE_SLOTS_MAX) {
      t.fill(0);
      freeSlots.push(t);
    }
    this.slots = null;
    this.meta = EMPTY;
    this.vals = EMPTY;
    if (this.kids !== null) this.kids = NO_KIDS;
    this.used = 0;
  }

  /**
   * The page has been freed (zapped: it holds no entry): its slot table goes
   * back for the next page, and it reads as empty from now on.
   */
  release(): void {
    if (this.freed) return;
    this.dropEntries();
    this.freed = true;
  }

  /** Adds a parent link (ShadowMmu.link keeps the parent's entry: use it). */
  addParent(page: ShadowPage, index: number): void {
    if (this.links.length === 0) this.links = [{ page, index }];
    else this.links.push({ page, index });
    this.changed = true;
  }

  /** Removes the first parent link from entry `index` of `page`, if there is one. */
  removeParent(page: ShadowPage, index: number): void {
    const ps = this.links;
    for (let i = 0; i < ps.length; i++) {
      if (ps[i]!.page === page && ps[i]!.index === index) {
        ps.splice(i, 1);
        this.changed = true;
        return;
      }
    }
  }

  /** Removes and returns the newest parent link. */
  popParent(): ParentLink | undefined {
    const l = this.links.pop();
    if (l) this.changed = true;
    return l;
  }

  /** The page's image now: the last one when nothing changed since it was made (see `image`). */
  snapshotImage(): PageImage {
    let img = this.image;
    if (this.changed || img === null) {
      const fresh = this.makeImage();
      // Changed and changed back (a zapped entry faulted in again): the old image still holds.
      if (img === null || !sameImage(fresh, img)) {
        img = fresh;
        freshImageBytes += imageBytes(img);
      }
      this.changed = false;
    } else if (img.rootCount !== this.rootCount) {
      img = { uid: img.uid, gfn: img.gfn, role: img.role, bornAt: img.bornAt, rootCount: this.rootCount, n: img.n, data: img.data };
      freshImageBytes += IMAGE_OBJECT_BYTES;
    }
    this.image = img;
    return img;
  }

  /** Marks the page as holding exactly `img` (ShadowMmu.restore, once it has rebuilt the page from it). */
  restoredFrom(img: PageImage): void {
    this.image = img;
    this.changed = false;
  }

  /** True when the page holds exactly `img` (it was made from it or imaged as it, and nothing changed since). */
  holds(img: PageImage): boolean {
    return this.image === img && !this.changed && this.rootCount === img.rootCount;
  }

  /** Forgets every entry, child and parent link (ShadowMmu.restore, before it loads the page from an image). */
  clearForRestore(): void {
    this.dropEntries();
    this.links.length = 0;
    this.changed = true;
  }

  private makeImage(): PageImage {
    const n = this.presentCount();
    const kids = this.kids;
    const ps = this.links;
    // One array of numbers (held unboxed): no typed array and no array per link.
    const data = new Array<number>(n * (kids ? 3 : 2) + ps.length);
    let k = 0;
    const t = this.slots;
    const meta = this.meta;
    const vals = this.vals;
    if (t !== null) {
      // The present entries in index order, straight from the bitmap (a checkpoint images every changed page).
      for (let w = 0; w < PRESENT_WORDS; w++) {
        let bits = t[PT64_ENT_PER_PAGE + w]!;
        while (bits !== 0) {
          const s = t[(w << 4) | (31 - Math.clz32(bits & -bits))]! - 1;
          bits &= bits - 1;
          // The index and, above it, the recorded access (indexes are below 512).
          data[k] = meta[s]!;
          data[n + k] = vals[s]!;
          if (kids) data[2 * n + k] = kids[s]?.uid ?? 0;
          k++;
        }
      }
    } else {
      for (let i = this.nextEntry(0); i >= 0; i = this.nextEntry(i + 1)) {
        const s = this.slotOf(i) - 1;
        data[k] = meta[s]!;
        data[n + k] = vals[s]!;
        if (kids) data[2 * n + k] = kids[s]?.uid ?? 0;
        k++;
      }
    }
    const at = kids ? 3 * n : 2 * n;
    for (let j = 0; j < ps.length; j++) data[at + j] = ps[j]!.page.uid * PT64_ENT_PER_PAGE + ps[j]!.index;
    return { uid: this.uid, gfn: this.gfn, role: this.role, bornAt: this.bornAt, rootCount: this.rootCount, n, data };
  }

  presentCount(): number {
    let n = 0;
    for (let k = 0; k < this.used; k++) if (this.vals[k] !== 0) n++;
    return n;
  }

  describe(): string {
    return `shadow page #${this.uid} (gfn ${hex(this.gfn)}, ${describeRole(this.role)})`;
  }
}

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
    freshImageBytes = 0;
    for (let p = this.oldest; p; p = p.younger) pages.push(p.snapshotImage());
    const snap: ShadowSnapshot = { pages, nextUid: this.nextUid, stats: { ...this.stats } };
    this.lastSnapshotBytes = 64 + 8 * pages.length + freshImageBytes;
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

/**
 * A shadow page in a snapshot: its `n` present entries as n indexes (each
 * plus 512 × its recorded access), then
 * their n values, then (level > 1) the n children's uids (0 for none), then
 * its parent links as parent uid × 512 + index, all in one array of numbers.
 */
export interface PageImage {
  readonly uid: number;
  readonly gfn: number;
  readonly role: Role;
  readonly bornAt: number;
  readonly rootCount: number;
  readonly n: number;
  readonly data: readonly number[];
}

/** True when two images hold the same page state (the same uid is assumed, and so the same role). */
export function sameImage(a: PageImage, b: PageImage): boolean {
  if (a.rootCount !== b.rootCount || a.n !== b.n || a.data.length !== b.data.length) return false;
  const x = a.data;
  const y = b.data;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** About the bytes of an image's object, without its array of numbers. */
const IMAGE_OBJECT_BYTES = 96;

/** About the bytes an image holds (the object and its array of numbers). */
export function imageBytes(img: PageImage): number {
  return IMAGE_OBJECT_BYTES + 32 + 8 * img.data.length;
}

/** The bytes of the images made by the snapshot under way (ShadowMmu.snapshot reads it). */
let freshImageBytes = 0;

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
