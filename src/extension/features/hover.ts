// Hover: what the word under the mouse means here. A PTE value decoded for
// the file's mode and the entry's level; an address split into its per-level
// indexes; a keyword, flag, level or option in a sentence; a name of the
// expression language from EXPR_NAMES; a space or a label with where it is.

import { displayVa } from '../../engine';
import { EXPR_NAMES, findNameDoc, type Expr, type NameDoc } from '../../expr';
import { parseNumber, type Mode, type Range, type Stmt } from '../../trace';
import { contains, inSetup, lineTokens, range, tokenAt, type Position, type Tok, type TraceAnalysis } from './analysis';
import { ENTRY_NAMES, formatSplit, groupedHex, hex, levelSize, pteMarkdown, sizeName, splitAddress } from './decode';
import { FLAG_DOCS, KEYWORD_DOCS, MODE_DOCS, POLICY_DOCS, TAIL_DOCS, levelDoc } from './docs';

export interface HoverResult {
  range: Range;
  /** Markdown. */
  markdown: string;
}

const code = (s: string): string => '```mmutrace\n' + s + '\n```';

function nameDocMarkdown(d: NameDoc): string {
  return `${code(d.signature)}\n${d.doc}`;
}

/** The innermost expression node at `col`, and its parents. */
function exprPath(e: Expr, col: number, path: Expr[] = []): Expr[] {
  if (col < e.col || col >= e.endCol) return path;
  path.push(e);
  switch (e.kind) {
    case 'member':
      return exprPath(e.object, col, path);
    case 'call':
      for (const a of e.args) if (col >= a.col && col < a.endCol) return exprPath(a, col, path);
      return path;
    case 'unary':
      return exprPath(e.operand, col, path);
    case 'binary':
      if (col < e.left.endCol) return exprPath(e.left, col, path);
      if (col >= e.right.col) return exprPath(e.right, col, path);
      return path;
    default:
      return path;
  }
}

function numberMarkdown(v: bigint, text: string): string {
  const parts = [`\`${text}\` = ${groupedHex(v)} = ${v.toString()}`];
  if (v >= 1024n && v % 1024n === 0n && v < 2n ** 53n) parts.push(`= ${sizeName(Number(v))}`);
  return parts.join(' ');
}

function hoverExpression(a: TraceAnalysis, stmt: Stmt & { kind: 'expect' }, p: Position): HoverResult | undefined {
  const path = exprPath(stmt.expr as Expr, p.col);
  const node = path[path.length - 1];
  if (!node) return undefined;
  const r = (col: number, endCol: number): Range => range(p.line, col, endCol);
  switch (node.kind) {
    case 'name': {
      const d = findNameDoc(node.name);
      return d ? { range: r(node.col, node.endCol), markdown: nameDocMarkdown(d) } : undefined;
    }
    case 'member': {
      if (p.col < node.nameCol) return undefined;
      const owner = node.object.kind === 'name' ? findNameDoc(node.object.name) : undefined;
      const m = owner?.members?.find((x) => x.name === node.name);
      return m ? { range: r(node.nameCol, node.endCol), markdown: nameDocMarkdown(m) } : undefined;
    }
    case 'call': {
      if (p.col >= node.col + node.fn.length) return undefined;
      const d = findNameDoc(node.fn);
      return d ? { range: r(node.col, node.col + node.fn.length), markdown: nameDocMarkdown(d) } : undefined;
    }
    case 'const': {
      const d = findNameDoc(node.name);
      const f = FLAG_DOCS[node.name];
      return { range: r(node.col, node.endCol), markdown: `${code(d?.signature ?? node.name)}\n${f ? f.doc : (d?.doc ?? '')}` };
    }
    case 'number':
      return { range: r(node.col, node.endCol), markdown: numberMarkdown(node.value, node.text) };
    case 'bool':
      return { range: r(node.col, node.endCol), markdown: nameDocMarkdown(findNameDoc(String(node.value))!) };
    default:
      return undefined;
  }
}

/** Hover in an `expect` line the parser rejected: the identifier under the mouse, from EXPR_NAMES. */
function hoverExpressionText(line: string, p: Position): HoverResult | undefined {
  const off = p.col - 1;
  let s = off;
  let e = off;
  while (s > 0 && /\w/.test(line[s - 1]!)) s--;
  while (e < line.length && /\w/.test(line[e]!)) e++;
  if (s === e || /\d/.test(line[s]!)) return undefined;
  const word = line.slice(s, e);
  let k = s;
  while (k > 0 && line[k - 1] === ' ') k--;
  let d: NameDoc | undefined;
  if (line[k - 1] === '.') {
    const owner = /(\w+)\s*$/.exec(line.slice(0, k - 1));
    d = owner ? findNameDoc(owner[1]!)?.members?.find((m) => m.name === word) : undefined;
  } else d = EXPR_NAMES.find((n) => n.name === word);
  return d ? { range: range(p.line, s + 1, e + 1), markdown: nameDocMarkdown(d) } : undefined;
}

function spaceMarkdown(a: TraceAnalysis, index: number): string {
  const sp = a.result.program.spaces[index]!;
  const maps = a.result.program.setup.filter((s) => s.kind === 'map' && s.space === index).length;
  const switches = a.statements.filter((s) => s.kind === 'cr3' && s.space === index).length;
  const lines = [
    `**space** \`${sp.name}\`, declared at line ${sp.line}`,
    '',
    `${maps} \`map\` line${maps === 1 ? '' : 's'}; ${switches} \`cr3\` switch${switches === 1 ? '' : 'es'} to it.`,
  ];
  if (index === 0) lines.push('', "The first space: every vCPU's initial CR3.");
  return lines.join('\n');
}

function labelMarkdown(a: TraceAnalysis, name: string): string | undefined {
  const d = a.labels.get(name);
  if (!d) return undefined;
  const text = a.lines[d.line - 1]!.slice(d.stmt.range.col - 1, d.stmt.range.endCol - 1);
  return `**label** \`@${name}\`, line ${d.line}\n${code(text)}`;
}

function addressMarkdown(va: number, mode: Mode, what: string, leafLevel = 1, vaEnd?: number): string {
  const split = splitAddress(va, mode, leafLevel);
  const out = [`**${what}** ${groupedHex(displayVa(va, mode))} in mode ${mode}`, '', formatSplit(split)];
  if (leafLevel > 1) out.push('', `(the offset is within the ${sizeName(levelSize(mode, leafLevel))} page of this L${leafLevel} entry)`);
  if (vaEnd !== undefined) {
    const pages = (vaEnd - va) / levelSize(mode, leafLevel);
    out.push('', `up to ${groupedHex(displayVa(vaEnd, mode))} (excluded): ${pages} page${pages === 1 ? '' : 's'}; the last one is ${formatSplit(splitAddress(vaEnd - 1, mode, leafLevel))}`);
  }
  return out.join('\n');
}

function gpaMarkdown(gpa: number, what: string): string {
  return `**${what}** ${groupedHex(gpa)}\n\nframe ${hex(Math.floor(gpa / 4096))}, offset ${hex(gpa % 4096)}`;
}

/** The token's text as a number of the language, or undefined. */
function num(t: Tok): bigint | undefined {
  return t.kind === 'num' ? parseNumber(t.text) : undefined;
}

export function hover(a: TraceAnalysis, p: Position): HoverResult | undefined {
  const line = a.lines[p.line - 1];
  if (line === undefined) return undefined;
  const stmt = a.stmtByLine[p.line];

  // A label mentioned in a comment.
  for (const m of a.mentions) {
    if (m.range.line === p.line && contains(m.range, p) && p.col < m.range.endCol) {
      const md = labelMarkdown(a, m.name);
      return md ? { range: m.range, markdown: md } : undefined;
    }
  }

  const toks = lineTokens(line);
  const t = tokenAt(toks, p.col);
  if (!t) {
    if (stmt?.kind === 'expect' && contains(stmt.exprRange, p)) return hoverExpression(a, stmt, p);
    if (toks[0]?.text.toLowerCase() === 'expect' && p.col > toks[0].end) return hoverExpressionText(line, p);
    return undefined;
  }
  const tr = range(p.line, t.start + 1, t.end + 1);
  const lower = t.text.toLowerCase();
  const mode = a.mode;

  // The keyword.
  if (t === toks[0]) {
    const d = KEYWORD_DOCS[lower];
    if (!d) return undefined;
    let md = `${code(d.signature)}\n${d.doc}`;
    if (lower === 'cpl') md += inSetup(a, p.line) ? '\n\n_Here in the setup: for every vCPU._' : '\n\n_Here after the setup: for the current vCPU._';
    return { range: tr, markdown: md };
  }

  if (t.kind === 'label') {
    const md = labelMarkdown(a, t.text.slice(1));
    return md ? { range: tr, markdown: md } : undefined;
  }

  const kw = toks[0]?.text.toLowerCase() ?? '';
  const afterEq = toks.some((x) => x.kind === 'eq' && x.end <= t.start);

  if (t.kind === 'word') {
    if (kw === 'mode' && lower === 'pae') return { range: tr, markdown: MODE_DOCS.pae };
    if (kw === 'policy') {
      const d = POLICY_DOCS[lower];
      return { range: tr, markdown: d ? `**policy** \`${lower}\`\n\n${d}` : `Unknown policy \`${t.text}\`: the known ones are ${Object.keys(POLICY_DOCS).map((k) => `\`${k}\``).join(', ')}.` };
    }
    if (kw === 'space' && stmt?.kind === 'space') return { range: tr, markdown: spaceMarkdown(a, stmt.index) };
    if (kw === 'cr3' && stmt?.kind === 'cr3' && stmt.space >= 0) return { range: tr, markdown: spaceMarkdown(a, stmt.space) };
    if (/^l[0-9]+$/.test(lower)) return { range: tr, markdown: levelDoc(Number(lower.slice(1)), mode) };
    const tail = TAIL_DOCS[lower];
    if (tail) return { range: tr, markdown: `${code(tail.signature)}\n${tail.doc}` };
    const flag = FLAG_DOCS[t.text.toUpperCase()];
    if (flag && afterEq) {
      let md = `**${t.text.toUpperCase()}** (bit ${flag.bit}): ${flag.doc}`;
      const value = stmt?.kind === 'map' ? stmt.pte : stmt?.kind === 'pte' ? stmt.value : undefined;
      if (value !== undefined && (stmt?.kind === 'map' || stmt?.kind === 'pte')) md += '\n\n---\n\n' + pteMarkdown(value, mode, stmt.level);
      return { range: tr, markdown: md };
    }
    return undefined;
  }

  if (t.kind !== 'num') return undefined;
  const v = num(t);
  if (v === undefined) return undefined;
  if (kw === 'mode') return { range: tr, markdown: MODE_DOCS[t.text as Mode] ?? numberMarkdown(v, t.text) };
  if (!stmt) return { range: tr, markdown: numberMarkdown(v, t.text) };
  const inR = (r: Range | undefined): boolean => r !== undefined && contains(r, p) && p.col < r.endCol;

  switch (stmt.kind) {
    case 'map': {
      if (inR(stmt.pteRange)) return { range: tr, markdown: pteMarkdown(stmt.pte, mode, stmt.level) };
      if (inR(stmt.vaRange)) {
        const isEnd = stmt.vaEnd !== undefined && t.start + 1 > stmt.vaRange.col;
        const leaf = stmt.pte & 0x80n && stmt.level > 1 ? stmt.level : 1;
        if (isEnd) return { range: tr, markdown: addressMarkdown(stmt.vaEnd! - 1, mode, 'last byte of the range', leaf) };
        return { range: tr, markdown: addressMarkdown(stmt.va, mode, `VA mapped by this ${ENTRY_NAMES[mode][stmt.level - 1]}`, leaf, stmt.vaEnd) };
      }
      break;
    }
    case 'pte':
      if (inR(stmt.valueRange)) return { range: tr, markdown: pteMarkdown(stmt.value, mode, stmt.level) };
      if (inR(stmt.vaRange)) return { range: tr, markdown: addressMarkdown(stmt.va, mode, `VA whose L${stmt.level} entry is stored`) };
      break;
    case 'read':
    case 'write':
    case 'exec':
      if (inR(stmt.vaRange)) return { range: tr, markdown: addressMarkdown(stmt.va, mode, `VA (${stmt.kind})`) };
      break;
    case 'invlpg':
      if (inR(stmt.vaRange)) return { range: tr, markdown: addressMarkdown(stmt.va, mode, 'VA invalidated') };
      break;
    case 'store':
    case 'poke':
      if (inR(stmt.gpaRange)) return { range: tr, markdown: gpaMarkdown(stmt.gpa, 'guest-physical address') };
      if (inR(stmt.valueRange)) {
        const md = numberMarkdown(stmt.value, t.text);
        return { range: tr, markdown: stmt.size === (mode === '32' ? 4 : 8) ? `${md}\n\n---\n\nIf this is a leaf entry:\n\n${pteMarkdown(stmt.value, mode, 1)}` : md };
      }
      break;
    case 'cr3':
      if (stmt.space < 0 && inR(stmt.targetRange)) return { range: tr, markdown: gpaMarkdown(stmt.gpa, 'CR3: page-table root at') };
      break;
    case 'pool':
      return { range: tr, markdown: gpaMarkdown(stmt.gpa, 'page-table pool starts at') };
  }
  return { range: tr, markdown: numberMarkdown(v, t.text) };
}
