// The words and limits of the trace language, shared by the parts of the
// parser (parser.ts and the files it is built from): keywords, PTE flag
// names, the words that end a statement, the limits, and the small helpers
// that match words and name sizes without making strings.

import type { Mode } from './ast';

export const KNOWN_POLICIES = ['zap', 'update', 'access', 'tdp'];

// ---------------------------------------------------------------------------
// Limits.

/** Decision: a line longer than this is reported (unless it is a comment) and not tokenized. */
export const MAX_LINE_LENGTH = 100_000;
/** Decision: `shadow-pages` at most this many. The engine allocates pages lazily, so this only bounds the reclaim threshold. */
export const MAX_SHADOW_PAGES = 1_000_000;
/** The most pages one `map VA..VA_END` line may map. */
export const MAX_MAP_PAGES = 1_048_576;
export const MAX_VCPUS = 64;
export const DEFAULT_MAX_DIAGNOSTICS = 1000;
export const DEFAULT_POOL = 0x10000000;
export const DEFAULT_SHADOW_PAGES = 1024;

// ---------------------------------------------------------------------------
// Words.

export const K_MODE = 0;
export const K_POLICY = 1;
export const K_VCPUS = 2;
export const K_CPL = 3;
export const K_POOL = 4;
export const K_SHADOW = 5;
export const K_SPACE = 6;
export const K_MAP = 7;
export const K_POKE = 8;
export const K_READ = 9;
export const K_WRITE = 10;
export const K_EXEC = 11;
export const K_PTE = 12;
export const K_STORE = 13;
export const K_CR3 = 14;
export const K_INVLPG = 15;
export const K_VCPU = 16;
export const K_EXPECT = 17;

/** Every keyword, setup directives first. */
export const KEYWORDS = [
  'mode',
  'policy',
  'vcpus',
  'cpl',
  'pool',
  'shadow-pages',
  'space',
  'map',
  'poke',
  'read',
  'write',
  'exec',
  'pte',
  'store',
  'cr3',
  'invlpg',
  'vcpu',
  'expect',
] as const;
export const SETUP_KEYWORDS = KEYWORDS.slice(0, K_READ);
/** Keywords valid after the setup: the events, `vcpu`, `expect` and `cpl`. */
export const EVENT_KEYWORDS = [...KEYWORDS.slice(K_READ), 'cpl'];

/** Flag names of PTE values and their bit numbers. */
export const PTE_FLAGS: readonly { name: string; bit: number }[] = [
  { name: 'P', bit: 0 },
  { name: 'W', bit: 1 },
  { name: 'U', bit: 2 },
  { name: 'PWT', bit: 3 },
  { name: 'PCD', bit: 4 },
  { name: 'A', bit: 5 },
  { name: 'D', bit: 6 },
  { name: 'PS', bit: 7 },
  { name: 'G', bit: 8 },
  { name: 'NX', bit: 63 },
];
export const FLAG_NAMES = PTE_FLAGS.map((f) => f.name);
export const FLAG_LOWER = FLAG_NAMES.map((f) => f.toLowerCase());
export const F_NX = 9;
/** The flags of one letter, by char code (either case); -1 for other characters. */
export const FLAG_1 = new Int8Array(128).fill(-1);
FLAG_LOWER.forEach((f, i) => {
  if (f.length === 1) FLAG_1[f.charCodeAt(0)] = FLAG_1[f.charCodeAt(0) - 32] = i;
});

export const TAIL_WORDS = ['size', 'offset', 'user', 'kernel'];
export const W_SIZE = 0;
export const W_OFFSET = 1;
export const W_USER = 2;
export const W_KERNEL = 3;

export const A_SIZE = 1;
export const A_OFFSET = 2;
export const A_CPL = 4;
export const A_LABEL = 8;

export function byLength(names: readonly string[]): number[][] {
  const t: number[][] = [];
  names.forEach((n, i) => (t[n.length] ??= []).push(i));
  return t;
}
export const KW_BY_LEN = byLength(KEYWORDS);
export const FLAG_BY_LEN = byLength(FLAG_LOWER);
export const TAIL_BY_LEN = byLength(TAIL_WORDS);

/** Index of the (lower-case) word text[s..e) in names, compared case-insensitively; -1 when absent. */
export function matchWord(text: string, s: number, e: number, names: readonly string[], table: number[][]): number {
  const cands = table[e - s];
  if (cands === undefined) return -1;
  outer: for (let ci = 0; ci < cands.length; ci++) {
    const idx = cands[ci]!;
    const name = names[idx]!;
    for (let i = s; i < e; i++) {
      let c = text.charCodeAt(i);
      if (c >= 65 && c <= 90) c += 32;
      if (c !== name.charCodeAt(i - s)) continue outer;
    }
    return idx;
  }
  return -1;
}

export const TWO32 = 4294967296;
export const KIB4 = 4096;

/** The char code at i with bit 5 set: a letter in lower case (and other characters changed, or NaN at the end, never equal to a letter). */
export function lower(text: string, i: number): number {
  return text.charCodeAt(i) | 0x20;
}

/** The char code at i, or that of `\n` at the end of the text (len). */
export function charAt(text: string, i: number, len: number): number {
  return i < len ? text.charCodeAt(i) : 10;
}

/** Page size mapped by one entry of `level`. */
export function levelPageSize(level: number, mode: Mode): number {
  switch (level) {
    case 1:
      return KIB4;
    case 2:
      return mode === '32' ? 4 * 1024 * 1024 : 2 * 1024 * 1024;
    case 3:
      return 1024 * 1024 * 1024;
    default:
      return 512 * 1024 * 1024 * 1024;
  }
}
export function sizeName(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${bytes / 1024 ** 3} GiB`;
  if (bytes >= 1024 ** 2) return `${bytes / 1024 ** 2} MiB`;
  return `${bytes / 1024} KiB`;
}
export function modeName(mode: Mode): string {
  return `mode ${mode}`;
}
export function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}
