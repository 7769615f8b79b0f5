// A document of 1M lines over stdio: while it is parsed (in slices), requests
// about other documents are answered; a change drops the parse of the version
// it replaces, so a request about the big document waits for one parse (the
// newest version's), not for a queue of them.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import type { CodeAction, DocumentSymbol } from 'vscode-languageserver/node';
import { bigTrace } from './big';
import { ROOT, startClient, type Client } from './helpers';

const LINES = 1_000_000;
const BIG = 'file:///w/big.mmutrace';
const SMALL = 'file:///w/demand-fault.mmutrace';
const demand = readFileSync(resolve(ROOT, 'examples/demand-fault.mmutrace'), 'utf8');

let c: Client | undefined;
afterAll(async () => {
  await c?.close();
});

test('1M lines: other requests go first, stale parses are dropped, diagnostics come for the newest version', async () => {
  c = await startClient();
  const client = c;
  const symbols = async (label: string): Promise<DocumentSymbol[]> => {
    const r = (await client.conn.sendRequest('textDocument/documentSymbol', { textDocument: { uri: SMALL } })) as DocumentSymbol[];
    client.log.push(label);
    return r;
  };
  client.open(SMALL, demand);
  await client.diagnosticsFor(SMALL);

  const text = bigTrace(LINES);
  const lines = text.split('\n');
  expect(lines.length - 1).toBe(LINES);
  client.open(BIG, text);
  // Sent after the 1M-line didOpen: answered before that document's diagnostics.
  expect((await symbols('symbols-1')).map((s) => s.name)).toEqual(['init', '@fault']);
  const first = await client.diagnosticsFor(BIG);
  expect(first).toEqual({ uri: BIG, version: 1, diagnostics: [] });
  expect(client.log.indexOf('symbols-1')).toBeLessThan(client.log.indexOf(`diagnostics:${BIG}@1`));

  // Two keystrokes in a row: a typo on line 500001, then one on line 600001 (both `read` lines: 500000 % 4 == 0).
  expect(lines[500000]!.startsWith('read ')).toBe(true);
  expect(lines[600000]!.startsWith('read ')).toBe(true);
  const typo = (line: number, version: number): void =>
    void client.conn.sendNotification('textDocument/didChange', {
      textDocument: { uri: BIG, version },
      contentChanges: [{ range: { start: { line, character: 1 }, end: { line, character: 3 } }, text: 'ae' }],
    });
  typo(500000, 2);
  typo(600000, 3);
  // A request about the big document: answered from version 3 (it waits for that parse only).
  const actions = client.conn.sendRequest('textDocument/codeAction', {
    textDocument: { uri: BIG },
    range: { start: { line: 600000, character: 0 }, end: { line: 600000, character: 0 } },
    context: { diagnostics: [] },
  }) as Promise<CodeAction[]>;
  // A request about another document: answered before the big one's new diagnostics.
  expect(await symbols('symbols-2')).toHaveLength(2);
  const third = await client.diagnosticsFor(BIG);
  expect(client.log.indexOf('symbols-2')).toBeLessThan(client.log.indexOf(`diagnostics:${BIG}@3`));
  // The parse of version 2 was dropped: version 3 is the next one published.
  expect(third.version).toBe(3);
  expect(third.diagnostics.map((d) => [d.range.start.line, String(d.message).slice(0, 22)])).toEqual([
    [500000, 'unknown keyword `raed`'],
    [600000, 'unknown keyword `raed`'],
  ]);
  const fixes = await actions;
  expect(fixes.map((f) => f.title)).toEqual(['Replace with `read`']);
  expect(fixes[0]!.edit!.changes![BIG]).toEqual([{ range: { start: { line: 600000, character: 0 }, end: { line: 600000, character: 4 } }, newText: 'read' }]);
  expect(client.published.filter((p) => p.uri === BIG).map((p) => p.version)).toEqual([1, 3]);
}, 300_000);
