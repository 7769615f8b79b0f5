// "Did you mean …?" suggestions: the optimal-string-alignment distance
// (Levenshtein plus the transposition of two neighbours, so `raed` is one edit
// from `read`), compared case-insensitively.

/** The edit distance between a and b, or max + 1 as soon as it exceeds max. */
export function editDistance(a: string, b: string, max = Infinity): number {
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > max) return max + 1;
  if (la === 0) return lb;
  if (lb === 0) return la;
  let prev2 = new Array<number>(lb + 1).fill(0);
  let prev = new Array<number>(lb + 1);
  let cur = new Array<number>(lb + 1);
  for (let j = 0; j <= lb; j++) prev[j] = j;
  for (let i = 1; i <= la; i++) {
    cur[0] = i;
    let rowMin = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= lb; j++) {
      const cb = b.charCodeAt(j - 1);
      const cost = ca === cb ? 0 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && ca === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === cb) v = Math.min(v, prev2[j - 2]! + 1);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    const t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return prev[lb]!;
}

/**
 * The candidate nearest to `word` (case-insensitively), if it is close enough:
 * no edit for a 1-character word (any letter is one edit from any other), at
 * most 1 edit for words of 2 or 3 characters, at most 2 for longer ones.
 * Ties go to the earlier candidate. Words longer than 64 characters get no suggestion.
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  if (word.length === 0 || word.length > 64) return undefined;
  const w = word.toLowerCase();
  const max = w.length === 1 ? 0 : w.length <= 3 ? 1 : 2;
  let best: string | undefined;
  let bestD = max + 1;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase(), bestD - 1 < max ? bestD - 1 : max);
    if (d < bestD && d <= max) {
      best = c;
      bestD = d;
      if (d === 0) break;
    }
  }
  return best;
}
