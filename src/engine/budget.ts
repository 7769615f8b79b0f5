// The memory budget of a replay (issue 17.3): what the command and the
// debugger may hold before they stop with an error the user sees, instead of
// growing until V8 aborts the process. What counts is what the process
// holds: the JS heap in use plus the typed arrays' buffers (Node's
// `heapUsed + arrayBuffers`), so the parsed trace, guest memory, the shadow,
// the audit and, in the debugger, its checkpoints, undo log and per-row
// data all count. The budget is MEMORY_BUDGET_BYTES, or 80 % of V8's heap
// limit when that is lower (a process started with a small
// `--max-old-space-size`), so that the budget is reached before V8 gives up.
//
// MMUTRACE_MEMORY_BUDGET_MB in the environment sets another budget (a
// machine with more memory: with `node --max-old-space-size=…` above it).
//
// No import here: the probe reads `globalThis.process` when it exists (Node,
// VS Code's extension host); where it does not (the web build) nothing is
// measured and the budget never trips.

/** The budget: 3 GiB of heap and buffers (V8's own heap limit is about 4 GiB on a 64-bit machine with 16 GiB or more). */
export const MEMORY_BUDGET_BYTES = 3 * 1024 * 1024 * 1024;
/** The share of V8's heap limit past which the budget trips in any case. */
export const HEAP_LIMIT_SHARE = 0.8;
/** The least time between two measurements (ms): a measurement costs tens of microseconds. */
const CHECK_EVERY_MS = 100;

interface NodeProcess {
  memoryUsage(): { heapUsed: number; arrayBuffers: number };
  env?: Record<string, string | undefined>;
  getBuiltinModule?(name: string): unknown;
}

/** The least time between two garbage collections forced to confirm a measurement (ms). */
const GC_EVERY_MS = 2000;

/** A full garbage collection, where Node lets us force one (`--expose-gc`, or V8's flag set at run time). False where it cannot. */
function collectGarbage(p: NodeProcess): boolean {
  try {
    let gc = (globalThis as { gc?: () => void }).gc;
    if (typeof gc !== 'function') {
      const v8 = p.getBuiltinModule?.('v8') as { setFlagsFromString(f: string): void } | undefined;
      const vm = p.getBuiltinModule?.('vm') as { runInNewContext(code: string): unknown } | undefined;
      if (!v8 || !vm) return false;
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    }
    gc();
    return true;
  } catch {
    return false;
  }
}

function nodeProcess(): NodeProcess | null {
  const p = (globalThis as { process?: Partial<NodeProcess> }).process;
  return p && typeof p.memoryUsage === 'function' ? (p as NodeProcess) : null;
}

/** MMUTRACE_MEMORY_BUDGET_MB (a whole number of MiB, at least 64) when it is set, else MEMORY_BUDGET_BYTES. */
function budgetFromEnv(): number {
  const v = nodeProcess()?.env?.MMUTRACE_MEMORY_BUDGET_MB;
  const n = v !== undefined && /^\d{2,7}$/.test(v.trim()) ? Number(v.trim()) : NaN;
  return n >= 64 ? n * 1024 * 1024 : MEMORY_BUDGET_BYTES;
}

/** V8's heap limit in bytes, where Node says it (Infinity where it does not). */
function heapLimit(p: NodeProcess): number {
  try {
    const v8 = p.getBuiltinModule?.('v8') as { getHeapStatistics(): { heap_size_limit: number } } | undefined;
    const n = v8?.getHeapStatistics().heap_size_limit;
    return typeof n === 'number' && n > 0 ? n : Infinity;
  } catch {
    return Infinity;
  }
}

export interface BudgetExceeded {
  /** Heap and buffers in use, bytes. */
  used: number;
  /** The budget that was passed, bytes. */
  budget: number;
  /** True when it is V8's heap limit (80 % of it) rather than MEMORY_BUDGET_BYTES. */
  heapLimited: boolean;
}

export class MemoryBudget {
  private readonly proc = nodeProcess();
  private readonly heapBudget: number;
  private lastCheck = -Infinity;

  /** `bytes`: the budget; default the environment's MMUTRACE_MEMORY_BUDGET_MB, else MEMORY_BUDGET_BYTES. */
  constructor(readonly bytes = budgetFromEnv()) {
    this.heapBudget = this.proc ? HEAP_LIMIT_SHARE * heapLimit(this.proc) : Infinity;
  }

  /** The budget in force: the lower of `bytes` and 80 % of V8's heap limit. */
  get effective(): number {
    return Math.min(this.bytes, this.heapBudget);
  }

  /**
   * Measures now: what is in use when it passes the budget, else null. The
   * heap in use counts garbage too, so a measurement past the budget is made
   * again after a full garbage collection before it counts; another one is
   * forced only once what is in use has grown by 1/20 of the budget since
   * the last one left it, or 2 s later.
   */
  measure(): BudgetExceeded | null {
    if (!this.proc) return null;
    this.lastCheck = performance.now();
    const over = this.over();
    if (over === null) return null;
    if (over.used < this.usedAfterGc + this.bytes / 20 && this.lastCheck - this.lastGc < GC_EVERY_MS) return null;
    this.lastGc = this.lastCheck;
    if (!collectGarbage(this.proc)) return over;
    const u = this.proc.memoryUsage();
    this.usedAfterGc = u.heapUsed + u.arrayBuffers;
    return this.over();
  }

  /** When the last garbage collection was forced, and what was in use after it. */
  private lastGc = -Infinity;
  private usedAfterGc = -Infinity;

  private over(): BudgetExceeded | null {
    const u = this.proc!.memoryUsage();
    const used = u.heapUsed + u.arrayBuffers;
    if (u.heapUsed > this.heapBudget) return { used, budget: this.heapBudget, heapLimited: true };
    if (used > this.bytes) return { used, budget: this.bytes, heapLimited: false };
    return null;
  }

  /** `measure`, at most every 100 ms (null in between): cheap enough to call every few thousand rows. */
  check(): BudgetExceeded | null {
    if (performance.now() - this.lastCheck < CHECK_EVERY_MS) return null;
    return this.measure();
  }
}

/** "the memory budget of 3072 MB was reached (3100 MB in use)", for the command's and the debugger's messages. */
export function describeBudget(e: BudgetExceeded): string {
  const mb = (n: number): string => `${Math.round(n / 1048576)} MB`;
  return `the memory budget of ${mb(e.budget)}${e.heapLimited ? " (80 % of V8's heap limit)" : ''} was reached (${mb(e.used)} in use)`;
}
