// The handler steps of one event, each named after the 2007 KVM function it
// models. Recorded only when a recorder is attached (the debugger re-runs one
// event from a checkpoint with one), so replay pays nothing for them.

export interface HandlerStep {
  /** KVM function name, with its paging-mode prefix where KVM had one (`paging64_walk_addr`). */
  fn: string;
  /** Nesting depth: 0 for the exit handler itself. */
  depth: number;
  /** What the step read and changed, in a KVM reader's words. */
  text: string;
  /** Shadow entries this step wrote (page uid, index), for the debugger's marks. */
  sptes?: { page: number; index: number }[];
  /** Guest entries this step read or wrote (guest-physical address of the entry). */
  gptes?: number[];
}

export class StepRecorder {
  readonly steps: HandlerStep[] = [];
  private depth = 0;

  enter(fn: string, text: string): HandlerStep {
    const s: HandlerStep = { fn, depth: this.depth, text };
    this.steps.push(s);
    this.depth++;
    return s;
  }

  leave(): void {
    if (this.depth > 0) this.depth--;
  }

  /** A step that has no steps below it. */
  step(fn: string, text: string): HandlerStep {
    const s = this.enter(fn, text);
    this.leave();
    return s;
  }
}

/** A function name without its paging-mode prefix (`paging64_fetch` → `fetch`). */
export function baseFunctionName(fn: string): string {
  return fn.replace(/^paging(32|32E|64)_/, '');
}

/** The handler step names a function breakpoint can name (engine.md / debugger.md). */
export const HANDLER_FUNCTIONS = [
  'page_fault',
  'walk_addr',
  'fetch',
  'kvm_mmu_get_page',
  'rmap_write_protect',
  'set_pte',
  'set_pde',
  'kvm_mmu_pte_write',
  'mmu_pte_write_zap_pte',
  'mmu_pte_write_new_pte',
  'update_pte',
  'kvm_mmu_zap_page',
  'inject_page_fault',
  'emulate_store',
  'fix_write_pf',
  'fix_read_pf',
  'new_cr3',
  'kvm_mmu_free_some_pages',
  'mmu_set_spte',
  'tdp_page_fault',
  '__direct_map',
] as const;
