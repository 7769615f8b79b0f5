// One shadow page (KVM's struct kvm_mmu_page) and its snapshot image: the
// role, the entries held sparsely, the children, the parent links, and the
// image a snapshot keeps of it. The shadow MMU that owns the pages (hash,
// reverse map, zapping, reclaim, snapshots) is shadow.ts.

import { SHADOW_FRAME_BASE, hex } from './bits';

export const PT64_ENT_PER_PAGE = 512;

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
  // arrays hold exactly the first slot, then grow by push (plain arrays: a typed
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
      // Small. The first slot gets arrays of exactly one (a page mostly holds one entry; a push would give
      // them room for 16 more); the next are pushed (a copy of the arrays at every slot made garbage of
      // them: 11 % of a replay's time).
      if (k === 0) {
        this.meta = [i];
        this.vals = [0];
        if (this.kids !== null) this.kids = [null];
      } else {
        this.meta.push(i);
        this.vals.push(0);
        this.kids?.push(null);
      }
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

/** The bytes of the images made since the last `takeFreshImageBytes` (ShadowMmu.snapshot reads it around each snapshot). */
let freshImageBytes = 0;

/** The bytes of the images made since the last call, and starts counting again. */
export function takeFreshImageBytes(): number {
  const n = freshImageBytes;
  freshImageBytes = 0;
  return n;
}
