// Pte-write policies: what kvm_mmu_pte_write does after it has zapped the
// shadow entry of a trapped, aligned, unflooded guest pte store.

import { PT_ACCESSED, PT_DIRTY, PT_NX_HI, PT_PRESENT, PT_USER, PT_WRITABLE, hex, makeSpte } from './bits';
import type { PagingMode } from './paging';
import { ACC_REC_U, ACC_REC_W, hostFrameOf, type ShadowMmu, type ShadowPage } from './shadow';
import { entryFrame } from './walk';

export interface Policy {
  readonly name: string;
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
    // FNAME(set_pte) with access_bits = 6: W and U from the guest pte alone.
    let access = lo & (PT_WRITABLE | PT_USER);
    // set_pte_common records access_bits (6 & gpte) in the entry's spare bits: the leaf's own W and U.
    const recorded = (access & PT_WRITABLE ? ACC_REC_W : 0) | (access & PT_USER ? ACC_REC_U : 0);
    const gfn = entryFrame(mode, lo, hi);
    if ((lo & PT_DIRTY) === 0) access &= ~PT_WRITABLE;
    if (access & PT_WRITABLE && mmu.isShadowed(gfn)) access &= ~PT_WRITABLE;
    const nx = mode.hasNx && (hi & PT_NX_HI) !== 0;
    const spte = makeSpte(hostFrameOf(gfn), (lo & (PT_PRESENT | PT_ACCESSED | PT_DIRTY)) | access, nx);
    mmu.setSpte(page, index, spte);
    page.storeAccess(index, recorded);
    mmu.stats.sptesUpdated++;
    rec?.step(fname, `installed spte ${hex(spte)} in ${page.describe()} [${index}] from new gpte (W and U from the leaf alone)`);
  },
};

export const POLICIES: ReadonlyMap<string, Policy> = new Map([
  [zapPolicy.name, zapPolicy],
  [updatePolicy.name, updatePolicy],
]);

export const POLICY_NAMES: readonly string[] = [...POLICIES.keys()];

export function getPolicy(name: string): Policy | undefined {
  return POLICIES.get(name);
}
