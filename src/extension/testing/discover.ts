// The Testing view's discovery, without VS Code: which test items a trace's
// text holds (the file, then each policy it runs under, then each `expect`).
// A line scan, not a parse: discovery runs on every file of the workspace and
// on every edit of an open trace, and must not parse a million-line trace in
// the extension host. test/extension/testing.test.ts holds it to the parser.

import { POLICY_NAMES } from '../../engine';

export interface FoundExpect {
  /** 1-based line of the `expect`. */
  line: number;
  /** 1-based column of the `expect` keyword, and of its expression (where `mmutrace check` points). */
  col: number;
  exprCol: number;
  /** 1-based column just past the expression (comment and trailing blanks left out). */
  endCol: number;
  /** The expression's text, as the CLI quotes it. */
  source: string;
}

export interface FoundTests {
  /** The file's `policy` directive (lower-cased), when it has one in its setup. */
  policy?: { name: string; line: number };
  expects: FoundExpect[];
}

const TAB = 9;
const SPACE = 32;
const HASH = 35;
const QUOTE = 34;

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB || c === 13;
}
function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 95 || c === 46;
}

/**
 * The `expect` lines of a trace and its `policy` directive. Keywords are
 * case-insensitive (language.md); a `#` starts a comment except inside double
 * quotes in an expression; an `expect` with nothing after it is no test (the
 * parser reports it). The `policy` directive counts only in the setup (before
 * the first line that is neither a setup directive nor a comment).
 */
export function discoverTests(text: string): FoundTests {
  const out: FoundTests = { expects: [] };
  let inSetup = true;
  let line = 0;
  let start = 0;
  const n = text.length;
  while (start <= n) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = n;
    line++;
    let i = start;
    while (i < end && isBlank(text.charCodeAt(i))) i++;
    if (i < end && text.charCodeAt(i) !== HASH) {
      let k = i;
      while (k < end && isWordChar(text.charCodeAt(k))) k++;
      const word = text.slice(i, k).toLowerCase();
      if (word === 'expect' && (k === end || isBlank(text.charCodeAt(k)))) {
        inSetup = false;
        const found = expectAt(text, line, i, k, end, start);
        if (found) out.expects.push(found);
      } else if (inSetup && word === 'policy') {
        let j = k;
        while (j < end && isBlank(text.charCodeAt(j))) j++;
        let e = j;
        while (e < end && isWordChar(text.charCodeAt(e))) e++;
        const name = text.slice(j, e).toLowerCase();
        if (POLICY_NAMES.includes(name) && !out.policy) out.policy = { name, line };
      } else if (!SETUP_WORDS.has(word)) {
        inSetup = false;
      }
    }
    if (end === n) break;
    start = end + 1;
  }
  return out;
}

const SETUP_WORDS = new Set(['mode', 'policy', 'vcpus', 'cpl', 'pool', 'shadow-pages', 'space', 'map', 'poke']);

function expectAt(text: string, line: number, kw: number, afterKw: number, end: number, lineStart: number): FoundExpect | null {
  let j = afterKw;
  while (j < end && isBlank(text.charCodeAt(j))) j++;
  // The expression runs to a `#` outside double quotes.
  let e = j;
  let quoted = false;
  while (e < end) {
    const c = text.charCodeAt(e);
    if (c === QUOTE) quoted = !quoted;
    else if (c === HASH && !quoted) break;
    e++;
  }
  while (e > j && isBlank(text.charCodeAt(e - 1))) e--;
  if (e === j) return null;
  return { line, col: kw - lineStart + 1, exprCol: j - lineStart + 1, endCol: e - lineStart + 1, source: text.slice(j, e) };
}

/**
 * The policies a file's tests run under. Decision (README, "The Testing
 * view"): the file's `policy` directive pins the design it was written for,
 * so only that one; a file without one runs under all four, as
 * `mmutrace check --policy all` does (the examples' `expect` lines say what
 * each design does, `policy == "zap" && ...`).
 */
export function testPolicies(found: FoundTests): string[] {
  return found.policy ? [found.policy.name] : [...POLICY_NAMES];
}

/** The ids of the test items: stable across edits as long as the line stays. */
export function policyId(fileId: string, policy: string): string {
  return `${fileId}#${policy}`;
}
export function expectId(fileId: string, policy: string, line: number): string {
  return `${fileId}#${policy}#L${line}`;
}
