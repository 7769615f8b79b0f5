// The audit: what KVM's 2007 AUDIT code checked, after every event.
//   1. No shadowed frame is mapped writable by any shadow entry.
//   2. The reverse map holds exactly the present leaf shadow entries.
//   3. Every present leaf shadow entry, on every path from every vCPU's
//      current roots, maps the host frame of the guest translation of its
//      address, grants no permission the guest path refuses, is writable only
//      where the guest leaf is dirty, and every guest entry on the path has A.
// Checks 1 and 2 run over every shadow page, check 3 over every path. The
// incremental form looks only at what the event changed (entries written,
// links made, frames newly shadowed, roots reloaded): guest memory under a
// shadow path changes only through a trapped store (which zaps or rewrites
// the entry, and so is seen) or through walk_addr setting A and D bits (which
// cannot break a check). Tests hold it to the full form on random traces.

import type { Mode } from '../trace/ast';
import { HOST_FRAME_OFFSET, PT_WRITABLE, PT_USER, hex, spteFlags, spteFrame, spteNx, spteToBigInt } from './bits';
import type { GuestMemory } from './memory';
import type { Mmu, VCpu } from './mmu';
import { displayVa, type PagingMode } from './paging';
import { hostFrameOf, type ShadowMmu, type ShadowPage } from './shadow';
import { ACC_READ, GuestWalk, walkAddr } from './walk';

export type AuditCheck = 1 | 2 | 3;

export interface Violation {
  check: AuditCheck;
  /** Uid and description of the shadow page. */
  page: number;
  pageText: string;
  index: number;
  /** The shadow entry's architectural value. */
  spte: bigint;
  /** Check 3: the address of the path, the vCPU, and the guest entry where the walk ended. */
  va?: bigint;
  vcpu?: number;
  gpte?: bigint;
  message: string;
  /**
   * The known flaw that explains it (designs.md, "The audit names the flaw"):
   * 1..4 of engine.md, or `unexplained` where no known flaw of the running
   * policy does (a bug of the engine or of the contract).
   */
  flaw: FlawId;
  /** Row index of the event after which it was seen. */
  event: number;
  /** The line of that event (the machine sets it while the row is at hand: the command streams rows and drops them). */
  line?: number;
}

const MAX_PATHS = 256;

/**
 * `livelock`: a stale shadow entry on a path through a guest entry that a
 * livelocked write stored into (engine.md lets such a write complete as the
 * guest walk says, leaving the shadow as the last exit left it; 2007's guest
 * would have hung there instead). Not in designs.md's list: see the README.
 */
export type FlawId = 1 | 2 | 3 | 4 | 5 | 'livelock' | 'unexplained';

/** The known flaws of the 2007 design, in engine.md's order. */
export const FLAWS = [
  "the seed's update takes W and U from the leaf entry alone",
  'no access bits in the role: a page table reached through parents with different permissions shares one shadow page',
  'NX is copied from the leaf entry only',
  'aliased large pages share metaphysical shadow pages whatever their NX, D bit and parents',
  "upper shadow pages keyed by the whole walk's access: a directory reached through parents of different access shares one upper page",
] as const;

/** Flaw 4 as it stands under `access` (designs.md): the role holds pt_access and dirtiness, not the large entry's own access. */
const FLAW4_2008 = "metaphysical pages keyed by pt_access and dirtiness only: a leaf built through one large entry serves another alias, or the same entry after its own W, U or NX changed";

/** `known flaw 2: …`, or that no known flaw of the policy explains it. */
export function describeFlaw(flaw: FlawId, policy: string): string {
  if (flaw === 'unexplained') return `no known flaw of \`${policy}\` explains it: a bug of the engine or of the contract`;
  if (flaw === 'livelock') return 'stale after the livelocked write above stored into a guest page table on this path (2007 would have hung there)';
  return `known flaw ${flaw}: ${flaw === 4 && policy === 'access' ? FLAW4_2008 : FLAWS[flaw - 1]}`;
}

export class Auditor {
  private readonly seen = new Set<string>();
  readonly violations: Violation[] = [];
  private readonly walk = new GuestWalk();
  /** Root page uid → the CR3 (and PDPTE) contexts its whole tree was walked in, unchanged since. */
  private readonly walkedTrees = new Map<number, Set<string>>();
  private event = -1;
  private fresh: Violation[] = [];

  constructor(private readonly mmu: Mmu) {}

  get count(): number {
    return this.violations.length;
  }

  /** Distinct violations by the flaw that explains them (`audit.byFlaw`: `{ "4": 2 }`). */
  byFlaw(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const v of this.violations) out[String(v.flaw)] = (out[String(v.flaw)] ?? 0) + 1;
    return out;
  }

  snapshot(): { seen: string[]; violations: Violation[] } {
    return { seen: [...this.seen], violations: [...this.violations] };
  }

  restore(s: { readonly seen: readonly string[]; readonly violations: readonly Violation[] }): void {
    this.seen.clear();
    for (const k of s.seen) this.seen.add(k);
    this.violations.length = 0;
    this.violations.push(...s.violations);
    this.walkedTrees.clear();
  }

  private get shadow(): ShadowMmu {
    return this.mmu.shadow;
  }
  private get mode(): PagingMode {
    return this.mmu.mode;
  }
  private get mem(): GuestMemory {
    return this.mmu.mem;
  }

  private report(v: Omit<Violation, 'event' | 'flaw'> & { flaw?: FlawId }, page: ShadowPage): void {
    const key = `${page.uid}:${v.index}:${v.check}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const full: Violation = { ...v, flaw: v.flaw ?? 'unexplained', event: this.event };
    this.violations.push(full);
    this.fresh.push(full);
  }

  /** The whole audit. Returns the violations seen for the first time. */
  full(event: number): Violation[] {
    this.event = event;
    this.fresh = [];
    const pages = this.shadow.pages();
    for (const p of pages) {
      if (p.level !== 1) continue;
      for (let i = p.nextEntry(0); i >= 0; i = p.nextEntry(i + 1)) this.check1(p, i);
    }
    this.check2All(pages);
    this.walkedTrees.clear();
    if (this.mmu.design === 'tdp') {
      for (const p of pages) if (p.level === 1) for (let i = p.nextEntry(0); i >= 0; i = p.nextEntry(i + 1)) this.checkNested(p, i);
    } else for (const v of this.distinctVcpus()) this.check3Tree(v);
    return this.fresh;
  }

  /** The audit of what the last event changed (see the file comment). */
  incremental(event: number, reloaded: readonly VCpu[]): Violation[] {
    this.event = event;
    this.fresh = [];
    const sh = this.shadow;
    // Most events complete in the shadow and change nothing.
    const n = sh.changeCount;
    if (n === 0 && sh.created.length === 0 && reloaded.length === 0) return this.fresh;
    for (let k = 0; k < n; k++) {
      const page = sh.changePage(k);
      const index = sh.changeIndex(k);
      if (!page.alive) continue;
      const now = page.entry(index);
      if (page.level === 1) {
        if (now !== 0) this.check1(page, index);
        this.check2Entry(page, index, sh.changeOld(k));
        if (now !== 0 && page.role.nested) this.checkNested(page, index);
      }
    }
    if (this.mmu.design === 'tdp') return this.fresh;
    for (const p of sh.created) {
      if (!p.role.metaphysical && p.alive) for (const e of sh.rmapEntries(p.gfn)) this.check1(e.page, e.index);
    }
    // Guest memory under a shadow path changes only through the pte-write path (which writes the
    // shadow entries: in the change log) or A/D bits (which cannot break a check). So a tree
    // walked whole needs no new walk at a CR3 load unless an entry below it changed while no vCPU
    // had it loaded (the paths through an entry that changed are checked below for the vCPUs
    // that have it loaded): issue 16.
    const tops = n !== 0 && this.walkedTrees.size !== 0 ? this.topsAbove(n) : null;
    let covered = true;
    const vcpus = n !== 0 ? this.distinctVcpus() : [];
    // Paths through entries written this event, from vCPUs whose tree is not checked whole.
    const done = new Set<number>();
    for (let k = 0; k < n; k++) {
      const page = sh.changePage(k);
      const index = sh.changeIndex(k);
      if (!page.alive || page.entry(index) === 0) continue;
      const key = page.uid * 512 + index;
      if (done.has(key)) continue;
      done.add(key);
      const paths = this.pathsTo(page, vcpus);
      if (paths.length >= MAX_PATHS) covered = false;
      for (const path of paths) {
        if (reloaded.includes(path.vcpu)) continue;
        this.check3Below(path.vcpu, page, index, path.va);
      }
    }
    if (tops !== null) {
      for (const top of tops) {
        const keys = this.walkedTrees.get(top.uid);
        if (!keys) continue;
        const keep = covered ? this.loadedContexts(top, vcpus, reloaded) : null;
        for (const c of [...keys]) if (!keep?.has(c)) keys.delete(c);
      }
    } else if (tops === null && n !== 0 && this.walkedTrees.size !== 0) this.walkedTrees.clear();
    for (const v of reloaded) this.check3Tree(v, true);
    return this.fresh;
  }

  // -------------------------------------------------------------------------

  private check1(page: ShadowPage, index: number): void {
    const spte = page.entry(index);
    if ((spteFlags(spte) & PT_WRITABLE) === 0) return;
    const gfn = spteFrame(spte) - HOST_FRAME_OFFSET;
    if (this.shadow.isShadowed(gfn)) {
      this.report(
        { check: 1, page: page.uid, pageText: page.describe(), index, spte: spteToBigInt(spte), message: `writable shadow pte maps gfn ${hex(gfn)}, a shadowed guest page table` },
        page,
      );
    }
  }

  private check2All(pages: ShadowPage[]): void {
    const expected = new Map<string, ShadowPage>();
    for (const p of pages) {
      if (p.level !== 1) continue;
      for (let i = p.nextEntry(0); i >= 0; i = p.nextEntry(i + 1)) expected.set(`${p.uid}:${i}`, p);
    }
    const found = new Set<string>();
    for (const [gfn, list] of this.shadow.rmapAll()) {
      for (const e of list) {
        const key = `${e.page.uid}:${e.index}`;
        const spte = e.page.entry(e.index);
        if (!e.page.alive || spte === 0 || spteFrame(spte) - HOST_FRAME_OFFSET !== gfn || found.has(key)) {
          this.report(
            { check: 2, page: e.page.uid, pageText: e.page.describe(), index: e.index, spte: spteToBigInt(spte), message: `reverse map of gfn ${hex(gfn)} holds an entry that is not a present leaf mapping it` },
            e.page,
          );
        }
        found.add(key);
      }
    }
    for (const [key, p] of expected) {
      if (!found.has(key)) {
        const index = Number(key.split(':')[1]);
        this.report(
          { check: 2, page: p.uid, pageText: p.describe(), index, spte: spteToBigInt(p.entry(index)), message: 'present leaf shadow pte missing from the reverse map' },
          p,
        );
      }
    }
  }

  private check2Entry(page: ShadowPage, index: number, old: number): void {
    const now = page.entry(index);
    const inRmap = (gfn: number): number => this.shadow.rmapEntries(gfn).filter((e) => e.page === page && e.index === index).length;
    if (now !== 0 && inRmap(spteFrame(now) - HOST_FRAME_OFFSET) !== 1) {
      this.report({ check: 2, page: page.uid, pageText: page.describe(), index, spte: spteToBigInt(now), message: 'present leaf shadow pte not in the reverse map exactly once' }, page);
    }
    if (old !== 0 && (now === 0 || spteFrame(old) !== spteFrame(now)) && inRmap(spteFrame(old) - HOST_FRAME_OFFSET) !== 0) {
      this.report({ check: 2, page: page.uid, pageText: page.describe(), index, spte: spteToBigInt(now), message: 'reverse map still holds a shadow pte that no longer maps that frame' }, page);
    }
  }

  /** Under `tdp` (designs.md): a present nested leaf maps guest frame g to host frame g + 0x100000. */
  private checkNested(page: ShadowPage, index: number): void {
    const spte = page.entry(index);
    const g = page.gfn + index;
    if (spteFrame(spte) === hostFrameOf(g)) return;
    this.report(
      { check: 3, page: page.uid, pageText: page.describe(), index, spte: spteToBigInt(spte), message: `nested leaf for gfn ${hex(g)} maps host frame ${hex(spteFrame(spte))}, not ${hex(hostFrameOf(g))} (${describeFlaw('unexplained', 'tdp')})` },
      page,
    );
  }

  // -------------------------------------------------------------------------
  // Check 3

  /** vCPUs with distinct roots (two vCPUs on one CR3 walk the same paths), except in mode pae where PDPTEs may differ. */
  private distinctVcpus(): VCpu[] {
    const all = this.mmu.vcpus;
    if (all.length === 1) return all;
    const out: VCpu[] = [];
    const keys = new Set<string>();
    for (const v of all) {
      const key = `${v.cr3}:${[...v.pdpteLo].join(',')}:${[...v.pdpteHi].join(',')}`;
      if (keys.has(key)) continue;
      keys.add(key);
      out.push(v);
    }
    return out;
  }

  /**
   * Check 3 over a vCPU's whole tree. With `onlyChanged` (a CR3 load), a
   * root's tree that was walked for the same CR3 (and PDPTE) and has not
   * changed since is not walked again (issue 16): violations are reported
   * once per entry and check, so walking it again could find nothing new.
   */
  private check3Tree(v: VCpu, onlyChanged = false): void {
    if (this.mode.shadowLevels === 4) {
      if (v.root) this.check3Root(v, v.root, 0, `${v.cr3}`, onlyChanged);
    } else {
      for (let q = 0; q < 4; q++) {
        const p = v.paeRoot[q];
        if (p) this.check3Root(v, p, q * 2 ** 30, `${v.cr3}:${q}:${v.pdpteLo[q]}:${v.pdpteHi[q]}`, onlyChanged);
      }
    }
  }

  private check3Root(v: VCpu, root: ShadowPage, base: number, context: string, onlyChanged: boolean): void {
    let keys = this.walkedTrees.get(root.uid);
    if (onlyChanged && keys?.has(context)) return;
    this.check3Subtree(v, root, base);
    if (!keys) this.walkedTrees.set(root.uid, (keys = new Set()));
    keys.add(context);
  }

  /** Forgets every walked tree (events ran without the audit: what they changed is not known). */
  forgetTrees(): void {
    if (this.walkedTrees.size !== 0) this.walkedTrees.clear();
  }

  /**
   * The pages above the pages whose entries changed this event, those
   * included (parent links lead to the roots; a page without parents is a
   * root, or was one), or null when there are too many to follow.
   */
  private topsAbove(n: number): Set<ShadowPage> | null {
    const sh = this.shadow;
    const seen = new Set<ShadowPage>();
    const stack: ShadowPage[] = [];
    for (let k = 0; k < n; k++) stack.push(sh.changePage(k));
    while (stack.length) {
      const p = stack.pop()!;
      if (seen.has(p)) continue;
      seen.add(p);
      if (seen.size > 4096) return null;
      for (const l of p.parents) stack.push(l.page);
    }
    return seen;
  }

  /** The contexts (CR3, PDPTE) in which `root` is loaded now by a vCPU that did not load CR3 in this event. */
  private loadedContexts(root: ShadowPage, vcpus: readonly VCpu[], reloaded: readonly VCpu[]): Set<string> {
    const out = new Set<string>();
    for (const v of vcpus) {
      if (reloaded.includes(v)) continue;
      if (this.mode.shadowLevels === 4) {
        if (v.root === root) out.add(`${v.cr3}`);
      } else {
        for (let q = 0; q < 4; q++) if (v.paeRoot[q] === root) out.add(`${v.cr3}:${q}:${v.pdpteLo[q]}:${v.pdpteHi[q]}`);
      }
    }
    return out;
  }

  /** Checks every leaf below `page`, whose first address is `base`. */
  private check3Subtree(v: VCpu, page: ShadowPage, base: number): void {
    const span = 2 ** (12 + 9 * (page.level - 1));
    for (let i = page.nextEntry(0); i >= 0; i = page.nextEntry(i + 1)) {
      const va = base + i * span;
      if (page.level === 1) this.check3Leaf(v, page, i, va);
      else {
        const child = page.child(i);
        if (child) this.check3Subtree(v, child, va);
      }
    }
  }

  /** Checks the entry (page, index) reached at address `pageBase` (the page's first address on this path). */
  private check3Below(v: VCpu, page: ShadowPage, index: number, pageBase: number): void {
    const span = 2 ** (12 + 9 * (page.level - 1));
    const va = pageBase + index * span;
    if (page.level === 1) this.check3Leaf(v, page, index, va);
    else {
      const child = page.child(index);
      if (child) this.check3Subtree(v, child, va);
    }
  }

  /** Every path from a vCPU's current root to `page`: the vCPU and the page's first address on that path. */
  private pathsTo(page: ShadowPage, vcpus: readonly VCpu[]): { vcpu: VCpu; va: number }[] {
    const out: { vcpu: VCpu; va: number }[] = [];
    const visit = (p: ShadowPage, below: number, depth: number): void => {
      if (out.length >= MAX_PATHS || depth > 5) return;
      for (const v of vcpus) {
        if (this.mode.shadowLevels === 4) {
          if (v.root === p) out.push({ vcpu: v, va: below });
        } else {
          for (let q = 0; q < 4; q++) if (v.paeRoot[q] === p) out.push({ vcpu: v, va: below + q * 2 ** 30 });
        }
      }
      for (const link of p.parents) {
        const span = 2 ** (12 + 9 * (link.page.level - 1));
        visit(link.page, below + link.index * span, depth + 1);
      }
    };
    visit(page, 0, 0);
    return out;
  }

  /**
   * The known flaw that explains a check-3 violation (designs.md, "The audit
   * names the flaw"): where several fit, the first of a metaphysical page
   * (4), under `access` any other permission granted (5), exec that a
   * parent's NX refuses (3), under `update` W or U that a
   * parent withholds on a page with one parent entry (1), otherwise W or U
   * granted through a shared page (2). Anything else (a wrong frame, no
   * translation, a missing A bit, W on a clean leaf of a guest table) no
   * known flaw explains.
   */
  private classify(page: ShadowPage, spte: number, w: GuestWalk, ok: boolean): FlawId {
    const ls = this.mmu.livelockStore;
    if (ls !== null) {
      for (let level = w.top; level >= w.level; level--) {
        const at = w.pteGpa[level]!;
        if (at >= 0 && at < ls.gpa + ls.size && ls.gpa < at + this.mode.entrySize) return 'livelock';
      }
    }
    if (!ok || spteFrame(spte) !== hostFrameOf(w.gfn) || !w.allAccessed) return 'unexplained';
    const f = spteFlags(spte);
    const overW = (f & PT_WRITABLE) !== 0 && !w.accW;
    const overU = (f & PT_USER) !== 0 && !w.accU;
    const overX = this.mode.hasNx && !spteNx(spte) && w.anyNx;
    if (page.role.metaphysical) return 4;
    if (this.mmu.design === 'access') return overW || overU || overX ? 5 : 'unexplained';
    if (overX && !w.leafNx) return 3;
    if (overW || overU) return this.mmu.policy.name === 'update' && page.parents.length === 1 ? 1 : 2;
    return 'unexplained';
  }

  private check3Leaf(v: VCpu, page: ShadowPage, index: number, va: number): void {
    const spte = page.entry(index);
    const w = this.walk;
    const problems: string[] = [];
    const ok = walkAddr(this.mem, this.mode, v, va, ACC_READ, false, 0, w);
    const f = spteFlags(spte);
    if (!ok) {
      problems.push(`the guest walk finds no translation (L${w.level} entry not present)`);
    } else {
      const want = hostFrameOf(w.gfn);
      if (spteFrame(spte) !== want) problems.push(`maps host frame ${hex(spteFrame(spte))}, but the guest translates to gfn ${hex(w.gfn)} (host frame ${hex(want)})`);
      if (f & PT_WRITABLE && !w.accW) problems.push('grants W that an entry on the guest path withholds');
      if (f & PT_USER && !w.accU) problems.push('grants U that an entry on the guest path withholds');
      if (this.mode.hasNx && !spteNx(spte) && w.anyNx) problems.push('allows exec where an entry on the guest path has NX');
      if (f & PT_WRITABLE && !w.leafDirty) problems.push('is writable while the guest leaf entry is not dirty');
      if (!w.allAccessed) problems.push('a guest entry on the path lacks A');
    }
    if (problems.length === 0) return;
    const flaw = this.classify(page, spte, w, ok);
    const lo = w.pteLo[w.level]!;
    const hi = w.pteHi[w.level]!;
    const gpte = this.mode.entrySize === 8 ? (BigInt(hi) << 32n) | BigInt(lo) : BigInt(lo);
    this.report(
      {
        check: 3,
        page: page.uid,
        pageText: page.describe(),
        index,
        spte: spteToBigInt(spte),
        va: displayVa(va, this.mode.name as Mode),
        vcpu: v.id,
        gpte,
        message: `shadow pte for ${hex(displayVa(va, this.mode.name))} on vCPU ${v.id} ${problems.join('; ')} (${describeFlaw(flaw, this.mmu.policy.name)})`,
        flaw,
      },
      page,
    );
  }
}
