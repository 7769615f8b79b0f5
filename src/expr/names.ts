// The built-in names of the expression language (language.md, "Expressions"),
// their documentation for completion and hover, and completion itself.

import { editDistance as traceEditDistance } from '../trace/hints';
import type { NameDoc } from './api';

const member = (owner: string, name: string, doc: string): NameDoc => ({
  name,
  kind: 'member',
  signature: `${owner}.${name}`,
  doc,
});

const flag = (name: string, bit: number, doc: string): NameDoc => ({
  name,
  kind: 'constant',
  signature: `${name} = 0x${(1n << BigInt(bit)).toString(16)}`,
  doc,
  value: 1n << BigInt(bit),
});

/** Every built-in name, function and constant, in a stable order. */
export const EXPR_NAMES: readonly NameDoc[] = [
  { name: 'policy', kind: 'name', signature: 'policy', doc: 'The running policy, a string: `"zap"`, `"update"` (2007), `"access"` (2008), `"tdp"` (two-dimensional paging).' },
  { name: 'vcpu', kind: 'name', signature: 'vcpu', doc: 'The current vCPU number (0-based).' },
  { name: 'line', kind: 'name', signature: 'line', doc: 'The line of the current event.' },
  { name: 'cr3', kind: 'name', signature: 'cr3', doc: 'CR3 of the current vCPU.' },
  {
    name: 'exits',
    kind: 'name',
    signature: 'exits',
    doc: 'VM exits so far, by kind: `exits.total`, `exits.pf`, `exits.fill`, `exits.inject`, `exits.emulate`, `exits.cr3`, `exits.invlpg`, `exits.npt`.',
    members: [
      member('exits', 'total', 'Every VM exit so far (`pf` + `cr3` + `invlpg` + `npt`).'),
      member('exits', 'pf', 'Page-fault exits so far (`fill` + `inject` + `emulate`).'),
      member('exits', 'fill', 'Page-fault exits whose handler filled the shadow (outcome `fill`).'),
      member('exits', 'inject', 'Page-fault exits that injected a #PF into the guest (outcome `inject`).'),
      member('exits', 'emulate', 'Page-fault exits that emulated a store to a shadowed guest page table (outcome `emulate`).'),
      member('exits', 'cr3', 'Exits for CR3 loads so far.'),
      member('exits', 'invlpg', 'Exits for INVLPG so far.'),
      member('exits', 'npt', 'Nested page faults so far under `tdp` (the first touch of a guest frame); 0 under the shadow policies.'),
    ],
  },
  {
    name: 'last',
    kind: 'name',
    signature: 'last',
    doc: 'What the previous event did: `last.exits`, `last.fault`, `last.zapped`, `last.updated`.',
    members: [
      member('last', 'exits', 'How many VM exits the previous event caused.'),
      member('last', 'fault', 'The error code of the #PF injected into the guest by the previous event, or `-1`.'),
      member('last', 'zapped', 'How many shadow PTEs the previous event zapped.'),
      member('last', 'updated', 'How many shadow PTEs the previous event updated.'),
    ],
  },
  {
    name: 'gpte',
    kind: 'function',
    signature: 'gpte(VA[, LEVEL])',
    doc: 'Without LEVEL, the raw guest entry where the guest walk of VA ends; with LEVEL, the entry at that level, or `-1` when the walk ends above it.',
    minArgs: 1,
    maxArgs: 2,
  },
  {
    name: 'spte',
    kind: 'function',
    signature: 'spte(VA[, LEVEL])',
    doc: "The shadow entry for VA at LEVEL (default 1) in the current vCPU's shadow (`0` when empty), or `-1` when the shadow path stops above that level.",
    minArgs: 1,
    maxArgs: 2,
  },
  {
    name: 'gpa',
    kind: 'function',
    signature: 'gpa(VA)',
    doc: 'The guest translation of VA for a read by the current privilege, or `-1` where the guest walk faults.',
    minArgs: 1,
    maxArgs: 1,
  },
  {
    name: 'npte',
    kind: 'function',
    signature: 'npte(GPA[, LEVEL])',
    doc: 'Under `tdp`, the nested page-table entry at LEVEL (default 1) on the path of GPA: `0` where that table exists and the entry is empty, `-1` where the path has no table at that level (always `-1` under the shadow policies).',
    minArgs: 1,
    maxArgs: 2,
  },
  {
    name: 'shadowed',
    kind: 'function',
    signature: 'shadowed(GPA)',
    doc: 'True where the page holding GPA is shadowed (so write-protected).',
    minArgs: 1,
    maxArgs: 1,
  },
  flag('P', 0, 'Present (bit 0).'),
  flag('W', 1, 'Writable (bit 1).'),
  flag('U', 2, 'User (bit 2).'),
  flag('PWT', 3, 'Page write-through (bit 3).'),
  flag('PCD', 4, 'Page cache disable (bit 4).'),
  flag('A', 5, 'Accessed (bit 5).'),
  flag('D', 6, 'Dirty (bit 6).'),
  flag('PS', 7, 'Large page (bit 7).'),
  flag('G', 8, 'Global (bit 8).'),
  flag('NX', 63, 'No-execute (bit 63; not in mode 32).'),
  { name: 'true', kind: 'constant', signature: 'true', doc: 'The boolean true (1 where an integer is expected).', value: true },
  { name: 'false', kind: 'constant', signature: 'false', doc: 'The boolean false (0 where an integer is expected).', value: false },
];

/** The built-in names that an environment resolves. */
export const DEFAULT_NAMES: ReadonlySet<string> = new Set(EXPR_NAMES.filter((d) => d.kind === 'name').map((d) => d.name));
/** The built-in functions. */
export const DEFAULT_FUNCTIONS: ReadonlySet<string> = new Set(EXPR_NAMES.filter((d) => d.kind === 'function').map((d) => d.name));

/** The flag constants (`P` … `NX`) and their values; `true`/`false` are keywords, not in this map. */
export const EXPR_CONSTANTS: ReadonlyMap<string, bigint> = new Map(
  EXPR_NAMES.filter((d) => d.kind === 'constant' && typeof d.value === 'bigint').map((d) => [d.name, d.value as bigint]),
);

const BY_NAME: ReadonlyMap<string, NameDoc> = new Map(EXPR_NAMES.map((d) => [d.name, d]));

/** The documentation of a built-in name, function or constant (not a member), or undefined. */
export function findNameDoc(name: string, extraNames?: readonly NameDoc[]): NameDoc | undefined {
  if (extraNames) for (const d of extraNames) if (d.name === name) return d;
  return BY_NAME.get(name);
}

// ---------------------------------------------------------------------------
// Did you mean

/** Restricted Damerau-Levenshtein distance, or `limit + 1` as soon as it must exceed `limit` (the trace parser's). */
export function editDistance(a: string, b: string, limit = 2): number {
  return traceEditDistance(a, b, limit);
}

/**
 * The candidate closest to `word` (case-insensitively): distance at most 2 and smaller than the
 * word's length (so a one-letter typo of a one-letter name is not "corrected" to another letter),
 * ties broken by the longer common prefix, then by order. Undefined when none is close enough.
 */
export function suggestName(word: string, candidates: Iterable<string>): string | undefined {
  if (word.length > 64) return undefined;
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDist = 3;
  let bestPrefix = -1;
  for (const c of candidates) {
    if (c === word) continue;
    const d = editDistance(w, c.toLowerCase(), 2);
    if (d > 2 || (d >= word.length && d !== 0)) continue;
    let p = 0;
    while (p < w.length && p < c.length && w.charCodeAt(p) === c.toLowerCase().charCodeAt(p)) p++;
    if (d < bestDist || (d === bestDist && p > bestPrefix)) {
      best = c;
      bestDist = d;
      bestPrefix = p;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------
// Completion

const isIdentChar = (c: number): boolean =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;

/** True when `offset` lies inside a string literal of `text` (after an unclosed `"`). */
function inString(text: string, offset: number): boolean {
  let open = false;
  for (let i = 0; i < offset; i++) {
    const c = text.charCodeAt(i);
    if (open && c === 92 /* \ */) i++;
    else if (c === 34 /* " */) open = !open;
  }
  return open;
}

/**
 * Completion candidates for the identifier, or the member after `name.`, being typed at `offset`
 * (0-based in `text`). `from` is where the word being completed starts (the replace range is
 * `from..offset`); items are those whose name starts with what is typed there, case-insensitively.
 * `extraNames` (the debugger's `exit`, ...) come after the built-in ones; their members complete too.
 * No items inside a string or a number.
 */
export function completeExpr(text: string, offset: number, extraNames?: readonly NameDoc[]): { from: number; items: NameDoc[] } {
  const off = Math.max(0, Math.min(offset, text.length));
  let from = off;
  while (from > 0 && isIdentChar(text.charCodeAt(from - 1))) from--;
  // Extend over word characters that follow the cursor? No: VS Code replaces from..offset.
  const prefix = text.slice(from, off).toLowerCase();
  const first = text.charCodeAt(from);
  if (from < off && first >= 48 && first <= 57) return { from, items: [] };
  if (inString(text, from)) return { from, items: [] };
  const matches = (d: NameDoc): boolean => d.name.toLowerCase().startsWith(prefix);

  // Member completion: `name.` (whitespace allowed around the dot).
  let k = from;
  while (k > 0 && (text[k - 1] === ' ' || text[k - 1] === '\t')) k--;
  if (k > 0 && text[k - 1] === '.') {
    let e = k - 1;
    while (e > 0 && (text[e - 1] === ' ' || text[e - 1] === '\t')) e--;
    let s = e;
    while (s > 0 && isIdentChar(text.charCodeAt(s - 1))) s--;
    // Only a top-level name has known members (`a.b.` has none).
    const owner = text.slice(s, e);
    let t = s;
    while (t > 0 && (text[t - 1] === ' ' || text[t - 1] === '\t')) t--;
    if (!owner || (t > 0 && text[t - 1] === '.')) return { from, items: [] };
    const doc = findNameDoc(owner, extraNames);
    return { from, items: (doc?.members ?? []).filter(matches) };
  }

  const items: NameDoc[] = [];
  const seen = new Set<string>();
  for (const list of [EXPR_NAMES, extraNames ?? []]) {
    for (const d of list) {
      if (d.kind === 'member' || seen.has(d.name)) continue;
      seen.add(d.name);
      if (matches(d)) items.push(d);
    }
  }
  return { from, items };
}
