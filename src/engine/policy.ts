// Pte-write policies: what kvm_mmu_pte_write does after it has zapped the
// shadow entry of a trapped, aligned, unflooded guest pte store.

import { PT_ACCESSED, PT_DIRTY, PT_NX_HI, PT_PRESENT, PT_USER, PT_WRITABLE, hex, makeSpte } from './bits';
import type { PagingMode } from './paging';
import { ACC_REC_U, ACC_REC_W, hostFrameOf, type ShadowMmu, type ShadowPage } from './shadow';
import { ACCESS_U, ACCESS_W, ACCESS_X, entryAccess, entryFrame } from './walk';

/**
 * Which MMU design a policy runs: 2007's shadow (engine.md: `zap`, `update`),
 * 2008's shadow with access bits in the role (designs.md: `access`), or
 * two-dimensional paging (designs.md: `tdp`).
 */
export type Design = '2007' | 'access' | 'tdp';

export interface Policy {
  readonly name: string;
  readonly design: Design;
  /** One line for `--help`, the README and the debugger. */
  readonly summary: string;
  /**
   * mmu_pte_write_new_pte: runs after mmu_pte_write_zap_pte on each affected
   * shadow entry. `newLo`/`newHi` are the guest entry as it now is in memory;
   * `bytes` is the size of the store.
   */
  newPte(mmu: ShadowMmu, mode: PagingMode, page: ShadowPage, index: number, newLo: number, newHi: number, bytes: number): void;
}

/** Before the seed: the trapped write only zaps; the guest's next access refaults. */
export const zapPolicy: Policy = {
  name: 'zap',
  design: '2007',
  summary: 'KVM before the seed: a trapped guest pte write zaps the shadow pte; the next access refaults (3 exits for a demand fault).',
  newPte() {},
};

/**
 * The seed, "KVM: Update shadow pte on write to guest pte" (Avi Kivity, June
 * 2007): at level 1, a whole-entry store of a present, accessed guest pte
 * installs the new shadow pte at once (FNAME(update_pte) → FNAME(set_pte)
 * with access_bits 6 = U|W), so the refault is gone (2 exits). W and U come
 * from the leaf entry alone: known flaw 1.
 */
export const updatePolicy: Policy = {
  name: 'update',
  design: '2007',
  summary: 'The seed: a trapped guest pte write updates the shadow pte from the new guest pte (2 exits for a demand fault); W and U from the leaf alone.',
  newPte(mmu: ShadowMmu, mode: PagingMode, page: ShadowPage, index: number, newLo: number, newHi: number, bytes: number): void {
    if (page.level !== 1) return; // mmu_pte_write_new_pte: PT_PAGE_TABLE_LEVEL only
    const rec = mmu.rec;
    const fname = mode.entrySize === 4 ? 'paging32_update_pte' : 'paging64_update_pte';
    if (bytes < mode.entrySize) {
      rec?.step(fname, `${bytes}-byte store is less than a whole ${mode.entrySize}-byte entry: nothing installed`);
      return;
    }
    const lo = newLo;
    const hi = mode.entrySize === 8 ? newHi : 0;
    if ((lo & (PT_PRESENT | PT_ACCESSED)) !== (PT_PRESENT | PT_ACCESSED)) {
      rec?.step(fname, `new gpte ${hex(lo)} lacks P or A: nothing installed`);
      return;
    }
    // FNAME(set_pte) with access_bits = 6: W and U from the guest pte alone (2007); under
    // `access` (2008's update_pte) the page's role.access AND the new entry's own access.
    let access = lo & (PT_WRITABLE | PT_USER);
    let nx = mode.hasNx && (hi & PT_NX_HI) !== 0;
    if (page.role.access >= 0) {
      const a = page.role.access & entryAccess(mode, lo, hi);
      access = (a & ACCESS_W ? PT_WRITABLE : 0) | (a & ACCESS_U ? PT_USER : 0);
      nx = mode.hasNx && (a & ACCESS_X) === 0;
    }
    // set_pte_common records access_bits (6 & gpte) in the entry's spare bits: the leaf's own W and U.
    const recorded = (access & PT_WRITABLE ? ACC_REC_W : 0) | (access & PT_USER ? ACC_REC_U : 0);
    const gfn = entryFrame(mode, lo, hi);
    if ((lo & PT_DIRTY) === 0) access &= ~PT_WRITABLE;
    if (access & PT_WRITABLE && mmu.isShadowed(gfn)) access &= ~PT_WRITABLE;
    const spte = makeSpte(hostFrameOf(gfn), (lo & (PT_PRESENT | PT_ACCESSED | PT_DIRTY)) | access, nx);
    mmu.setSpte(page, index, spte);
    page.storeAccess(index, recorded);
    mmu.stats.sptesUpdated++;
    rec?.step(fname, `installed spte ${hex(spte)} in ${page.describe()} [${index}] from new gpte (${page.role.access >= 0 ? "the page's role.access AND the entry's own" : 'W and U from the leaf alone'})`);
  },
};

/**
 * 2008 (designs.md, `access`): `update` plus the guest's access bits in every
 * shadow page's role; update_pte takes role.access AND the new entry's own.
 */
export const accessPolicy: Policy = {
  name: 'access',
  design: 'access',
  summary: "2008: the seed's update plus the guest's access bits (W, U, X) in the shadow page's role; flaws 1 to 3 gone, 4 narrowed, 5 new.",
  newPte: updatePolicy.newPte,
};

/** Two-dimensional paging (designs.md, `tdp`): no shadow of guest tables, so no pte-write path. */
export const tdpPolicy: Policy = {
  name: 'tdp',
  design: 'tdp',
  summary: "Two-dimensional paging (EPT/NPT): a nested page table maps guest-physical to host; the guest's own faults and pte stores cost no exit.",
  newPte() {},
};

export const POLICIES: ReadonlyMap<string, Policy> = new Map([
  [zapPolicy.name, zapPolicy],
  [updatePolicy.name, updatePolicy],
  [accessPolicy.name, accessPolicy],
  [tdpPolicy.name, tdpPolicy],
]);

export const POLICY_NAMES: readonly string[] = [...POLICIES.keys()];

export function getPolicy(name: string): Policy | undefined {
  return POLICIES.get(name);
}
