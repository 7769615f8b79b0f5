// language-configuration.json: comments, brackets, quotes, and the word
// pattern that keeps numbers with `_` and `@labels` whole.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';

const conf = JSON.parse(readFileSync(resolve(__dirname, '../../language-configuration.json'), 'utf8'));
const pkg = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8'));

/** The word at a column, as VS Code finds it with the word pattern. */
function wordAt(line: string, col: number): string | undefined {
  const re = new RegExp(conf.wordPattern, 'g');
  for (const m of line.matchAll(re)) if (m.index! <= col && col <= m.index! + m[0].length) return m[0];
  return undefined;
}

test('comments, brackets and auto-closing quotes', () => {
  expect(conf.comments).toEqual({ lineComment: '#' });
  expect(conf.brackets).toEqual([['(', ')']]);
  expect(conf.autoClosingPairs).toContainEqual({ open: '"', close: '"', notIn: ['string', 'comment'] });
});

test('the word pattern keeps 0x0040_0000, 4m, @label and exits.total whole', () => {
  const line = 'map 0x0040_0000..0x80_0000 L2 = 4m P W @big-page.1 # exits.total';
  expect(wordAt(line, 6)).toBe('0x0040_0000');
  expect(wordAt(line, 20)).toBe('0x80_0000');
  expect(wordAt(line, 28)).toBe('L2');
  expect(wordAt(line, 33)).toBe('4m');
  expect(wordAt(line, 41)).toBe('@big-page.1');
  expect(wordAt(line, 58)).toBe('exits.total');
  expect(wordAt('pool 0b1000_0000', 8)).toBe('0b1000_0000');
  expect(wordAt('shadow-pages 1k', 3)).toBe('shadow-pages');
});

test('package.json wires the language, the grammar and the snippets', () => {
  expect(pkg.contributes.languages[0]).toMatchObject({ id: 'mmutrace', extensions: ['.mmutrace'], configuration: './language-configuration.json' });
  expect(pkg.contributes.grammars[0]).toEqual({ language: 'mmutrace', scopeName: 'source.mmutrace', path: './syntaxes/mmutrace.tmLanguage.json' });
  expect(pkg.contributes.breakpoints).toEqual([{ language: 'mmutrace' }]);
});

test('the debugger declares a schema for every launch attribute', () => {
  const d = pkg.contributes.debuggers[0];
  expect(d.type).toBe('mmutrace');
  const props = d.configurationAttributes.launch.properties;
  expect(Object.keys(props).sort()).toEqual(['audit', 'logExits', 'policy', 'program', 'stopOnEntry']);
  expect(props.policy.enum).toEqual(['zap', 'update', 'access', 'tdp']);
  expect(d.configurationAttributes.launch.required).toEqual(['program']);
  for (const p of Object.values(props) as { type: string; description: string }[]) expect(p.description.length).toBeGreaterThan(10);
  expect(d.initialConfigurations[0]).toMatchObject({ type: 'mmutrace', request: 'launch', program: '${file}' });
  expect(d.configurationSnippets.length).toBeGreaterThan(0);
  // Also a workspace with traces (the Testing view lists their tests) and a task of type mmutrace (its provider).
  expect(pkg.activationEvents).toEqual(['onLanguage:mmutrace', 'onDebugResolve:mmutrace', 'onWebviewPanel:mmutrace.mmuMap', 'workspaceContains:**/*.mmutrace', 'onTaskType:mmutrace']);
  expect(pkg.capabilities.untrustedWorkspaces.supported).toBe(true);
  expect(pkg.capabilities.virtualWorkspaces).toBe(true);
});
