// Binary search over anything sorted, for every layer (the trace is the one
// they all import): the rows of a line, checkpoints by position, violations
// by event, timeline buckets by row.

/**
 * The first index in [0, n) where `before(i)` is false, or n when it holds
 * everywhere. `before` must be true on a prefix and false after it (a sorted
 * list asked "is this one below the key?").
 */
export function firstIndex(n: number, before: (i: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(mid)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
