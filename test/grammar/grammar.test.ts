// The TextMate grammar, tokenized by vscode-textmate + vscode-oniguruma (what
// VS Code runs), on a file that uses every construct of the language.

import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseTrace } from '../../src/trace';
import { tokenize, type Token } from './tokenize';

const FIXTURE = resolve(__dirname, 'all-constructs.mmutrace');
const EXAMPLES = resolve(__dirname, '../../examples');

let lines: Token[][];
const src = readFileSync(FIXTURE, 'utf8').split('\n');

/** The scopes of the `nth` token with this text on the line that starts with `start`. */
function scopesOf(start: string, text: string, nth = 0): string[] {
  const i = src.findIndex((l) => l.startsWith(start));
  if (i < 0) throw new Error(`no line starts with ${start}`);
  const toks = lines[i]!.filter((t) => t.text === text);
  const t = toks[nth];
  if (!t) throw new Error(`no token ${JSON.stringify(text)} (#${nth}) on line ${i + 1}: ${JSON.stringify(lines[i]!.map((x) => x.text))}`);
  return t.scopes;
}

function expectScope(start: string, text: string, scope: string, nth = 0): void {
  const scopes = scopesOf(start, text, nth);
  expect(scopes, `${JSON.stringify(text)} on \`${start}\``).toContain(scope);
}

describe('grammar on every construct', async () => {
  lines = await tokenize(readFileSync(FIXTURE, 'utf8'));

  test('the root scope is source.mmutrace', () => {
    for (const l of lines) for (const t of l) expect(t.scopes[0]).toBe('source.mmutrace');
  });

  test('comments and ## sections', () => {
    expectScope('## Setup', '##', 'punctuation.definition.comment.mmutrace');
    expectScope('## Setup', 'Setup', 'markup.heading.section.mmutrace');
    expectScope('## Setup', 'Setup', 'comment.line.double-number-sign.section.mmutrace');
    expectScope('# a plain', '#', 'comment.line.number-sign.mmutrace');
    expectScope('# a plain', ' a plain comment with @fault in it', 'comment.line.number-sign.mmutrace');
    expectScope('expect last.exits == 1 &&', ' trailing', 'comment.line.number-sign.mmutrace');
  });

  test('setup directives and events have distinct scopes', () => {
    for (const kw of ['mode', 'policy', 'vcpus', 'cpl', 'pool', 'shadow-pages', 'space', 'map', 'poke']) {
      expectScope(`${kw} `, kw, 'keyword.other.directive.setup.mmutrace');
    }
    for (const kw of ['read', 'write', 'exec', 'pte', 'store', 'cr3', 'invlpg']) {
      expectScope(`${kw} `, kw, 'keyword.control.event.mmutrace');
    }
    expectScope('vcpu 1', 'vcpu', 'keyword.control.vcpu.mmutrace');
    expectScope('expect last', 'expect', 'keyword.control.expect.mmutrace');
    // `cpl` in the setup is a directive; after it, it sets the current vCPU's privilege.
    expectScope('cpl kernel', 'cpl', 'keyword.other.directive.setup.mmutrace');
    expectScope('cpl user', 'cpl', 'keyword.control.cpl.mmutrace');
    expect(scopesOf('read 0x401000 user', 'read')).toContain('meta.event.mmutrace');
    expect(scopesOf('mode 64', 'mode')).toContain('meta.setup.mmutrace');
  });

  test('numbers: hex, decimal, binary, `_`, k/m/g', () => {
    expectScope('pool', '0x1000_0000', 'constant.numeric.hex.mmutrace');
    expectScope('map 0x0040_0000', '0x0040_0000', 'constant.numeric.hex.mmutrace');
    expectScope('vcpus', '2', 'constant.numeric.decimal.mmutrace');
    expectScope('map 0x800000..', '0b1000_0000_0000_0000_0000_0000', 'constant.numeric.binary.mmutrace');
    expectScope('shadow-pages', '1', 'constant.numeric.decimal.mmutrace');
    expectScope('shadow-pages', 'k', 'keyword.other.unit.suffix.mmutrace');
    expectScope('poke', 'm', 'keyword.other.unit.suffix.mmutrace');
    expectScope('poke', 'm', 'constant.numeric.decimal.mmutrace');
    expectScope('map 0x800000..', '..', 'keyword.operator.range.mmutrace');
    expectScope('map 0x401000', '=', 'keyword.operator.assignment.mmutrace');
  });

  test('PTE flags, in any case', () => {
    for (const f of ['P', 'W', 'U', 'A', 'D']) expectScope('map 0x401000', f, 'constant.language.flag.mmutrace');
    for (const f of ['PS', 'NX']) expectScope('map 0x600000', f, 'constant.language.flag.mmutrace');
    for (const f of ['p', 'w', 'g', 'pwt', 'pcd']) expectScope('map 0x800000..', f, 'constant.language.flag.mmutrace');
  });

  test('levels, privileges, options, mode and policy names', () => {
    expectScope('map 0x600000', 'L2', 'constant.language.level.mmutrace');
    expectScope('pte 0x400000 L1', 'L1', 'constant.language.level.mmutrace');
    expectScope('read 0x401000 user', 'user', 'storage.modifier.privilege.mmutrace');
    expectScope('write 0x401000', 'kernel', 'storage.modifier.privilege.mmutrace');
    expectScope('cpl kernel', 'kernel', 'storage.modifier.privilege.mmutrace');
    expectScope('pte 0x400000 L1', 'size', 'keyword.other.option.mmutrace');
    expectScope('pte 0x400000 L1', 'offset', 'keyword.other.option.mmutrace');
    expectScope('mode 64', '64', 'constant.language.mode.mmutrace');
    expectScope('policy update', 'update', 'support.constant.policy.mmutrace');
  });

  test('space names and labels', () => {
    expectScope('space init', 'init', 'entity.name.type.space.mmutrace');
    expectScope('cr3 other', 'other', 'entity.name.type.space.mmutrace');
    expectScope('cr3 other', '@', 'punctuation.definition.label.mmutrace');
    expectScope('cr3 other', 'switch', 'entity.name.label.mmutrace');
    expectScope('pte 0x400000 L1', 'fault', 'entity.name.label.mmutrace');
    expectScope('read 0x401000 user', 'first', 'entity.name.label.mmutrace');
  });

  test('expect expressions: operators, functions, names, members, flags, strings', () => {
    const e1 = 'expect last.exits == 1 &&';
    expectScope(e1, 'last', 'variable.language.mmutrace');
    expectScope(e1, 'last', 'meta.expression.mmutrace');
    expectScope(e1, '.', 'punctuation.accessor.mmutrace');
    expectScope(e1, 'exits', 'variable.other.property.mmutrace');
    expectScope(e1, 'exits', 'variable.language.mmutrace', 1);
    expectScope(e1, '==', 'keyword.operator.comparison.mmutrace');
    expectScope(e1, '>=', 'keyword.operator.comparison.mmutrace');
    expectScope(e1, '!=', 'keyword.operator.comparison.mmutrace');
    expectScope(e1, '&&', 'keyword.operator.logical.mmutrace');
    expectScope(e1, '||', 'keyword.operator.logical.mmutrace');
    expectScope(e1, 'policy', 'variable.language.mmutrace');
    expectScope(e1, '"', 'punctuation.definition.string.begin.mmutrace');
    expectScope(e1, 'zap', 'string.quoted.double.mmutrace');
    const e2 = 'expect gpte(';
    expectScope(e2, 'gpte', 'support.function.mmutrace');
    expectScope(e2, '(', 'punctuation.section.parens.begin.mmutrace');
    expectScope(e2, ',', 'punctuation.separator.comma.mmutrace');
    expectScope(e2, 'W', 'constant.language.flag.mmutrace');
    for (const op of ['&', '|', '~', '^']) expectScope(e2, op, 'keyword.operator.bitwise.mmutrace');
    for (const op of ['<<', '>>']) expectScope(e2, op, 'keyword.operator.bitwise.shift.mmutrace');
    for (const op of ['+', '-', '*', '/', '%']) expectScope(e2, op, 'keyword.operator.arithmetic.mmutrace');
    const e3 = 'expect spte(';
    for (const f of ['spte', 'shadowed', 'gpa']) expectScope(e3, f, 'support.function.mmutrace');
    expectScope(e3, 'NX', 'constant.language.flag.mmutrace');
    expectScope(e3, '!', 'keyword.operator.logical.mmutrace');
    expectScope(e3, 'k', 'keyword.other.unit.suffix.mmutrace');
    expectScope(e3, 'true', 'constant.language.boolean.mmutrace');
    expectScope(e3, 'false', 'constant.language.boolean.mmutrace');
    // A `#` in a string does not start a comment; escapes are marked.
    const e4 = 'expect "a #';
    expectScope(e4, 'a # not a comment ', 'string.quoted.double.mmutrace');
    expectScope(e4, '\\"', 'constant.character.escape.mmutrace');
    expectScope(e4, '\\\\', 'constant.character.escape.mmutrace');
    expect(scopesOf(e4, 'policy').some((s) => s.startsWith('comment'))).toBe(false);
  });

  test('invalid.illegal for what is clearly wrong', () => {
    expectScope('expect lines', '=', 'invalid.illegal.operator.mmutrace');
    expectScope('expect "unclosed', '"unclosed', 'invalid.illegal.unclosed-string.mmutrace');
    expectScope('map 0x1000 = 0', 'map', 'invalid.illegal.late-setup.mmutrace');
    expectScope('reed', 'reed', 'invalid.illegal.unknown-keyword.mmutrace');
    expectScope('read 0x12g4', '0x12g4', 'invalid.illegal.numeric.mmutrace');
    expectScope('read 0x12g4', 'L5', 'invalid.illegal.level.mmutrace');
    expectScope('read 0x12g4', '@', 'invalid.illegal.label.mmutrace');
    expectScope('read 0x12g4', '$', 'invalid.illegal.character.mmutrace');
  });

  test('every scope name follows TextMate conventions', () => {
    const roots = new Set(['comment', 'constant', 'entity', 'invalid', 'keyword', 'markup', 'meta', 'punctuation', 'storage', 'string', 'support', 'variable', 'source']);
    for (const l of lines) for (const t of l) for (const s of t.scopes) {
      expect(roots.has(s.split('.')[0]!), s).toBe(true);
      expect(s === 'source.mmutrace' || s.endsWith('.mmutrace'), s).toBe(true);
    }
  });
});

describe('grammar edge cases', () => {
  test('a file without setup starts with events; a setup directive later is invalid', async () => {
    const [l1, l2, l3] = await tokenize('read 0x1000\nmode 64\ncpl kernel');
    expect(l1![0]!.scopes).toContain('keyword.control.event.mmutrace');
    expect(l2![0]!.scopes).toContain('invalid.illegal.late-setup.mmutrace');
    expect(l3![0]!.scopes).toContain('keyword.control.cpl.mmutrace');
  });

  test('keywords are case-insensitive, CRLF lines tokenize alike', async () => {
    const [a, b] = await tokenize('MAP 0x1000 = 0x2000 P\r\nREAD 0x1000 KERNEL');
    expect(a![0]!.scopes).toContain('keyword.other.directive.setup.mmutrace');
    expect(b![0]!.scopes).toContain('keyword.control.event.mmutrace');
    expect(b!.find((t) => t.text === 'KERNEL')!.scopes).toContain('storage.modifier.privilege.mmutrace');
  });

  test('a name that starts with a keyword is not the keyword', async () => {
    const [a] = await tokenize('space mapping');
    expect(a!.find((t) => t.text === 'mapping')!.scopes).toContain('entity.name.type.space.mmutrace');
    const [b] = await tokenize('readx 0x1000');
    expect(b!.find((t) => t.text === 'readx')!.scopes).toContain('invalid.illegal.unknown-keyword.mmutrace');
  });

  test('no example that parses cleanly shows an invalid token', async () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.mmutrace'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const text = readFileSync(resolve(EXAMPLES, f), 'utf8');
      expect(parseTrace(text).hasErrors, f).toBe(false);
      const toks = await tokenize(text);
      toks.forEach((l, i) => {
        for (const t of l) expect(t.scopes.filter((s) => s.startsWith('invalid')), `${f}:${i + 1} ${JSON.stringify(t.text)}`).toEqual([]);
      });
    }
  });
});
