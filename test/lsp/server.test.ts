// The language server over stdio, as an editor runs it (`mmutrace lsp --stdio`,
// the built dist/cli.js): the handshake, diagnostics and quick fixes, hover,
// completion, symbols, definition, references, folding, and bad requests.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ErrorCodes, type CodeAction, type CompletionItem, type DocumentSymbol, type FoldingRange, type Hover, type Location } from 'vscode-languageserver/node';
import { ROOT, startClient, type Client } from './helpers';

const DEMAND_URI = 'file:///w/demand-fault.mmutrace';
const demand = readFileSync(resolve(ROOT, 'examples/demand-fault.mmutrace'), 'utf8');
const demandLines = demand.split('\n');
const doc = (uri = DEMAND_URI) => ({ textDocument: { uri } });

let c: Client;
beforeAll(async () => {
  c = await startClient();
  c.open(DEMAND_URI, demand);
  await c.diagnosticsFor(DEMAND_URI);
});
afterAll(async () => {
  await c?.close();
});

describe('the handshake', () => {
  test('initialize names the server and what it provides', () => {
    const init = (c as Client & { init: { capabilities: Record<string, unknown>; serverInfo: { name: string } } }).init;
    expect(init.serverInfo.name).toBe('mmutrace');
    for (const cap of ['hoverProvider', 'completionProvider', 'documentSymbolProvider', 'definitionProvider', 'referencesProvider', 'foldingRangeProvider', 'codeActionProvider']) {
      expect(init.capabilities[cap], cap).toBeTruthy();
    }
    // Incremental sync: a keystroke in a 1M-line file sends one small change.
    expect(init.capabilities.textDocumentSync).toMatchObject({ openClose: true, change: 2 });
  });
});

describe('diagnostics and quick fixes', () => {
  const URI = 'file:///w/typo.mmutrace';
  test('a typo is published as an error on its word, with the parser hint; the quick fix replaces it', async () => {
    c.open(URI, 'space a\nraed 0x1000\n');
    const d = await c.diagnosticsFor(URI);
    expect(d.version).toBe(1);
    expect(d.diagnostics).toHaveLength(1);
    const diag = d.diagnostics[0]!;
    // `raed` is line 2 (0-based 1), columns 0..4; language.md: an unknown keyword is an error.
    expect(diag.range).toEqual({ start: { line: 1, character: 0 }, end: { line: 1, character: 4 } });
    expect(diag.severity).toBe(1);
    expect(diag.source).toBe('mmutrace');
    expect(diag.message).toContain('unknown keyword `raed`');
    expect(diag.message).toContain('did you mean `read`?');
    const actions = (await c.conn.sendRequest('textDocument/codeAction', {
      ...doc(URI),
      range: { start: { line: 1, character: 1 }, end: { line: 1, character: 1 } },
      context: { diagnostics: [diag] },
    })) as CodeAction[];
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({ title: 'Replace with `read`', kind: 'quickfix', isPreferred: true });
    expect(actions[0]!.edit!.changes![URI]).toEqual([{ range: diag.range, newText: 'read' }]);
  });

  test('an edit that fixes it publishes an empty list for the new version', async () => {
    void c.conn.sendNotification('textDocument/didChange', {
      textDocument: { uri: URI, version: 2 },
      contentChanges: [{ range: { start: { line: 1, character: 0 }, end: { line: 1, character: 4 } }, text: 'read' }],
    });
    const d = await c.diagnosticsFor(URI);
    expect(d).toEqual({ uri: URI, version: 2, diagnostics: [] });
  });

  test('closing a document clears its diagnostics', async () => {
    void c.conn.sendNotification('textDocument/didClose', doc(URI));
    expect(await c.diagnosticsFor(URI)).toEqual({ uri: URI, diagnostics: [] });
  });

  test('the seed example has no diagnostics', () => {
    expect(c.published.find((p) => p.uri === DEMAND_URI)).toEqual({ uri: DEMAND_URI, version: 1, diagnostics: [] });
  });
});

describe('the features', () => {
  test('hover on a PTE value decodes it in the file mode', async () => {
    const line = demandLines.findIndex((l) => l.startsWith('map 0x401000'));
    const character = demandLines[line]!.indexOf('0x201000') + 2;
    const h = (await c.conn.sendRequest('textDocument/hover', { ...doc(), position: { line, character } })) as Hover;
    expect(h.contents).toMatchObject({ kind: 'markdown' });
    expect((h.contents as { value: string }).value).toContain('guest-physical 0x201000');
    // The entry with its flags: 0x201000 | P 0x1 | W 0x2 | U 0x4 | A 0x20 | D 0x40.
    expect((h.contents as { value: string }).value).toContain('`0x201067`');
    // The range is the hovered number.
    expect(h.range).toEqual({ start: { line, character: character - 2 }, end: { line, character: character - 2 + '0x201000'.length } });
  });

  test('hover on a blank line is null', async () => {
    const line = demandLines.indexOf('');
    expect(await c.conn.sendRequest('textDocument/hover', { ...doc(), position: { line, character: 0 } })).toBeNull();
  });

  test('completion after the setup offers events, not setup directives', async () => {
    const URI = 'file:///w/complete.mmutrace';
    c.open(URI, 'space a\nread 0x1000\nre');
    const items = (await c.conn.sendRequest('textDocument/completion', { ...doc(URI), position: { line: 2, character: 2 } })) as CompletionItem[];
    const labels = items.map((i) => i.label);
    expect(labels).toContain('read');
    expect(labels).not.toContain('space');
    const read = items.find((i) => i.label === 'read')!;
    // The item replaces the word typed so far.
    expect(read.textEdit).toEqual({ range: { start: { line: 2, character: 0 }, end: { line: 2, character: 2 } }, newText: 'read' });
    expect(read.kind).toBe(14); // Keyword
    void c.conn.sendNotification('textDocument/didClose', doc(URI));
  });

  test('document symbols: the space and the label', async () => {
    const syms = (await c.conn.sendRequest('textDocument/documentSymbol', doc())) as DocumentSymbol[];
    const names = syms.map((s) => s.name);
    expect(names).toEqual(['init', '@fault']);
    const space = syms[0]!;
    expect(space.kind).toBe(3); // Namespace
    // The space's extent runs from `space init` to its last `map` line.
    expect(space.range.start.line).toBe(demandLines.indexOf('space init'));
    expect(space.range.end.line).toBe(demandLines.findIndex((l) => l.startsWith('map 0x401000')));
  });

  test('definition of an @label mention in a comment goes to the label', async () => {
    const mention = demandLines.findIndex((l) => l.includes('From @fault'));
    const character = demandLines[mention]!.indexOf('@fault') + 1;
    const loc = (await c.conn.sendRequest('textDocument/definition', { ...doc(), position: { line: mention, character } })) as Location;
    const defLine = demandLines.findIndex((l) => l.startsWith('read 0x400000 @fault'));
    const col = demandLines[defLine]!.indexOf('@fault');
    expect(loc).toEqual({ uri: DEMAND_URI, range: { start: { line: defLine, character: col }, end: { line: defLine, character: col + 6 } } });
  });

  test('references of the label: its definition and its mention', async () => {
    const defLine = demandLines.findIndex((l) => l.startsWith('read 0x400000 @fault'));
    const character = demandLines[defLine]!.indexOf('@fault') + 2;
    const locs = (await c.conn.sendRequest('textDocument/references', { ...doc(), position: { line: defLine, character }, context: { includeDeclaration: true } })) as Location[];
    const mention = demandLines.findIndex((l) => l.includes('From @fault'));
    expect(locs.map((l) => l.range.start.line)).toEqual([mention, defLine]);
    const without = (await c.conn.sendRequest('textDocument/references', { ...doc(), position: { line: defLine, character }, context: { includeDeclaration: false } })) as Location[];
    expect(without.map((l) => l.range.start.line)).toEqual([mention]);
  });

  test('folding: the opening comment block', async () => {
    const folds = (await c.conn.sendRequest('textDocument/foldingRange', doc())) as FoldingRange[];
    const lastComment = demandLines.findIndex((l) => !l.startsWith('#')) - 1;
    expect(folds).toContainEqual({ startLine: 0, endLine: lastComment, kind: 'comment' });
  });

  test('the evaluatable expression under the mouse (for the debugger hover)', async () => {
    const line = demandLines.findIndex((l) => l.startsWith('read 0x400000 @fault'));
    const r = await c.conn.sendRequest('mmutrace/evaluatableExpression', { ...doc(), position: { line, character: 7 } });
    expect(r).toEqual({ range: { start: { line, character: 5 }, end: { line, character: 13 } }, expression: '0x400000' });
  });
});

describe('bad requests get an error that says what is wrong, and the server goes on', () => {
  const code = async (p: Promise<unknown>): Promise<{ code: number; message: string }> => {
    try {
      await p;
    } catch (e) {
      return e as { code: number; message: string };
    }
    throw new Error('no error');
  };

  test('an unknown method', async () => {
    const e = await code(c.conn.sendRequest('mmutrace/noSuchThing', {}));
    expect(e.code).toBe(ErrorCodes.MethodNotFound);
  });

  test('params without a position', async () => {
    const e = await code(c.conn.sendRequest('textDocument/hover', doc()));
    expect(e.code).toBe(ErrorCodes.InvalidParams);
    expect(e.message).toBe('textDocument/hover: params.position must be { line, character } with whole numbers >= 0');
  });

  test('a negative line, a string for a character, no params at all', async () => {
    expect((await code(c.conn.sendRequest('textDocument/definition', { ...doc(), position: { line: -1, character: 0 } }))).code).toBe(ErrorCodes.InvalidParams);
    expect((await code(c.conn.sendRequest('textDocument/completion', { ...doc(), position: { line: 0, character: '3' } }))).code).toBe(ErrorCodes.InvalidParams);
    const e = await code(c.conn.sendRequest('textDocument/documentSymbol', { textDocument: 5 }));
    expect(e.code).toBe(ErrorCodes.InvalidParams);
    expect(e.message).toBe('textDocument/documentSymbol: params.textDocument.uri must be a string');
    const r = await code(c.conn.sendRequest('textDocument/codeAction', { ...doc(), range: { start: { line: 0 } } }));
    expect(r.message).toBe('textDocument/codeAction: params.range.start must be { line, character } with whole numbers >= 0');
  });

  test('a document that is not open', async () => {
    const e = await code(c.conn.sendRequest('textDocument/hover', { textDocument: { uri: 'file:///nowhere.mmutrace' }, position: { line: 0, character: 0 } }));
    expect(e.code).toBe(ErrorCodes.InvalidParams);
    expect(e.message).toBe('textDocument/hover: file:///nowhere.mmutrace is not open (send textDocument/didOpen first)');
  });

  test('a position past the end of the document is no error: nothing there', async () => {
    expect(await c.conn.sendRequest('textDocument/hover', { ...doc(), position: { line: 9999, character: 5 } })).toBeNull();
    expect(await c.conn.sendRequest('textDocument/definition', { ...doc(), position: { line: 2, character: 9999 } })).toBeNull();
  });

  test('after all that, the server still answers', async () => {
    const syms = (await c.conn.sendRequest('textDocument/documentSymbol', doc())) as DocumentSymbol[];
    expect(syms).toHaveLength(2);
    expect(c.child.exitCode).toBeNull();
  });
});

describe('the command line', () => {
  test('`mmutrace lsp` without a transport says which to give and exits 2', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [resolve(ROOT, 'dist/cli.js'), 'lsp'], { encoding: 'utf8', timeout: 20000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('mmutrace lsp: say which transport: --stdio or --node-ipc');
    const u = spawnSync(process.execPath, [resolve(ROOT, 'dist/cli.js'), 'lsp', '--tcp'], { encoding: 'utf8', timeout: 20000 });
    expect(u.status).toBe(2);
    expect(u.stderr).toContain('unknown option `--tcp`');
  });

  test('the server exits when its client closes stdin', async () => {
    const d = await startClient();
    d.child.stdin!.end();
    const status = await new Promise<number | null>((r) => d.child.on('exit', (code) => r(code)));
    // Without a shutdown request first: LSP says exit code 1.
    expect(status).toBe(1);
  });
});
