// Completion: what may be typed at the cursor. Keywords valid there (setup
// directives only in the setup), mode and policy names, privileges, levels of
// the file's mode, flags in PTE values, options, space names after `cr3`,
// labels after `@` in comments, and the expression language in `expect`.

import { POLICY_NAMES } from '../../engine';
import { completeExpr, type NameDoc } from '../../expr';
import { EVENT_KEYWORDS, KEYWORDS, modeLevels, type Range } from '../../trace';
import { commentStart, inSetup, lineTokens, range, type Position, type Tok, type TraceAnalysis } from './analysis';
import { FLAG_DOCS, KEYWORD_DOCS, MODE_DOCS, POLICY_DOCS, TAIL_DOCS, levelDoc } from './docs';

export type CompletionKind = 'keyword' | 'value' | 'flag' | 'level' | 'option' | 'space' | 'label' | 'name' | 'function' | 'constant' | 'member';

export interface CompletionItem {
  label: string;
  kind: CompletionKind;
  detail?: string;
  /** Markdown. */
  documentation?: string;
  /** What replaces `range` (default: the label). */
  insertText?: string;
  /** The text that the item replaces: the word typed so far. */
  range: Range;
  /** Keeps the order of the list (VS Code otherwise sorts by label). */
  sortText: string;
}

function items(
  list: readonly { label: string; kind: CompletionKind; detail?: string; documentation?: string; insertText?: string }[],
  r: Range,
  prefix: string,
): CompletionItem[] {
  const p = prefix.toLowerCase();
  return list
    .filter((i) => i.label.toLowerCase().startsWith(p))
    .map((i, n) => ({ ...i, range: r, sortText: String(n).padStart(4, '0') }));
}

function exprItem(d: NameDoc): { label: string; kind: CompletionKind; detail: string; documentation: string; insertText?: string } {
  const kind: CompletionKind = d.kind === 'function' ? 'function' : d.kind === 'constant' ? 'constant' : d.kind === 'member' ? 'member' : 'name';
  return { label: d.name, kind, detail: d.signature, documentation: d.doc };
}

function keywordItems(words: readonly string[]): { label: string; kind: CompletionKind; detail?: string; documentation?: string }[] {
  return words.map((w) => ({ label: w, kind: 'keyword' as const, detail: KEYWORD_DOCS[w]?.signature, documentation: KEYWORD_DOCS[w]?.doc }));
}

function tailItems(words: readonly string[]): { label: string; kind: CompletionKind; detail?: string; documentation?: string }[] {
  return words.map((w) => ({ label: w, kind: 'option' as const, detail: TAIL_DOCS[w]!.signature, documentation: TAIL_DOCS[w]!.doc }));
}

function isWord(t: Tok, w: string): boolean {
  return t.kind === 'word' && t.text.toLowerCase() === w;
}

export function complete(a: TraceAnalysis, p: Position): CompletionItem[] {
  const line = a.lines[p.line - 1] ?? '';
  const before = line.slice(0, p.col - 1);

  // In a comment: labels after `@`.
  const cs = commentStart(line);
  if (cs >= 0 && cs < p.col - 1) {
    const m = /@([A-Za-z0-9_.-]*)$/.exec(before);
    if (!m) return [];
    const r = range(p.line, p.col - m[0].length, p.col);
    const labels = [...a.labels.values()].map((l) => ({
      label: '@' + l.name,
      kind: 'label' as const,
      detail: `line ${l.line}`,
      documentation: '```mmutrace\n' + a.lines[l.line - 1]!.trim() + '\n```',
    }));
    return items(labels, r, m[0]);
  }

  const toks = lineTokens(before);
  const kw = toks[0]?.kind === 'word' ? toks[0].text.toLowerCase() : '';

  // `expect EXPR`: the expression language.
  if (kw === 'expect' && before.length > toks[0]!.end) {
    const start = toks[0]!.end;
    const res = completeExpr(before.slice(start), before.length - start);
    const r = range(p.line, start + res.from + 1, p.col);
    return res.items.map((d, n) => ({ ...exprItem(d), range: r, sortText: String(n).padStart(4, '0') }));
  }

  // The word being typed, and the tokens before it.
  const wm = /@?[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$/.exec(before)!;
  const prefix = wm[0];
  const r = range(p.line, p.col - prefix.length, p.col);
  const prev = toks.filter((t) => t.end <= p.col - 1 - prefix.length);
  if (prefix.startsWith('@')) return [];
  if (/^[0-9]/.test(prefix)) return [];

  // The first word: keywords valid here.
  if (prev.length === 0) {
    const setup = inSetup(a, p.line);
    const words = setup ? [...KEYWORDS] : EVENT_KEYWORDS;
    return items(keywordItems(words), r, prefix);
  }

  const k = prev[0]!.kind === 'word' ? prev[0]!.text.toLowerCase() : '';
  const last = prev[prev.length - 1]!;
  const hasEq = prev.some((t) => t.kind === 'eq');
  const levels = modeLevels(a.mode);
  const levelItems = Array.from({ length: levels }, (_, i) => ({ label: `L${i + 1}`, kind: 'level' as const, documentation: levelDoc(i + 1, a.mode) }));
  const flagItems = () => {
    const present = new Set(prev.filter((t) => t.kind === 'word').map((t) => t.text.toUpperCase()));
    return Object.entries(FLAG_DOCS)
      .filter(([name]) => !(name === 'NX' && a.mode === '32') && !present.has(name))
      .map(([name, d]) => ({ label: name, kind: 'flag' as const, detail: `bit ${d.bit}`, documentation: d.doc }));
  };
  const n = prev.length;

  switch (k) {
    case 'mode':
      return n === 1 ? items((['32', 'pae', '64'] as const).map((m) => ({ label: m, kind: 'value' as const, documentation: MODE_DOCS[m] })), r, prefix) : [];
    case 'policy':
      return n === 1 ? items(POLICY_NAMES.map((m) => ({ label: m, kind: 'value' as const, documentation: POLICY_DOCS[m] })), r, prefix) : [];
    case 'cpl':
      return n === 1 ? items(tailItems(['user', 'kernel']), r, prefix) : [];
    case 'cr3':
      if (n !== 1) return [];
      return items(
        a.result.program.spaces.map((s) => ({ label: s.name, kind: 'space' as const, detail: `space, line ${s.line}` })),
        r,
        prefix,
      );
    case 'vcpu':
      return n === 1
        ? items(Array.from({ length: a.result.program.vcpus }, (_, i) => ({ label: String(i), kind: 'value' as const, detail: `vCPU ${i}` })), r, prefix)
        : [];
    case 'map':
    case 'pte':
      if (!hasEq) {
        // After the address (or the range): a level.
        if (last.kind === 'num' && (n === 2 || prev[n - 2]?.kind === 'dotdot')) return items(levelItems, r, prefix);
        return [];
      }
      if (last.kind === 'eq' || isWord(last, 'size') || isWord(last, 'offset')) return [];
      if (prev.some((t) => isWord(t, 'size') || isWord(t, 'offset'))) return items(tailItems(['size', 'offset']), r, prefix);
      return items([...flagItems(), ...(k === 'pte' ? tailItems(['size', 'offset']) : [])], r, prefix);
    case 'read':
    case 'exec':
      return n >= 2 ? items(tailItems(['user', 'kernel']), r, prefix) : [];
    case 'write':
      if (n < 2 || last.kind === 'eq' || isWord(last, 'size')) return [];
      return items(tailItems(['size', 'user', 'kernel']), r, prefix);
    case 'store':
    case 'poke':
      if (!hasEq || last.kind === 'eq' || isWord(last, 'size')) return [];
      return items(tailItems(['size']), r, prefix);
    default:
      return [];
  }
}
