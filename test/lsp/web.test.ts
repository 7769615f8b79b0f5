// The web worker build of the server (dist/web/lsp.js, what VS Code for the
// web runs): loaded in a context with no Node globals and no module system,
// with a `self` that stands for the worker's scope; spoken to with the
// worker's messages (JSON-RPC objects, as vscode-languageclient/browser sends them).

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import vm from 'node:vm';
import { beforeAll, expect, test } from 'vitest';
import { ROOT } from './helpers';

const WEB_LSP = resolve(ROOT, 'dist/web/lsp.js');

beforeAll(() => {
  if (!existsSync(WEB_LSP)) throw new Error('dist/web/lsp.js is missing: run `npm run build`');
});

test('the worker build answers initialize, publishes diagnostics and hovers, with no Node global', async () => {
  const sent: Record<string, unknown>[] = [];
  const self = {
    onmessage: null as ((e: { data: unknown }) => void) | null,
    addEventListener() {},
    removeEventListener() {},
    postMessage(m: unknown) {
      sent.push(JSON.parse(JSON.stringify(m)));
    },
  };
  const context = vm.createContext({ self, console, setTimeout, clearTimeout, setInterval, clearInterval, queueMicrotask, TextEncoder, TextDecoder, performance, MessageChannel });
  vm.runInContext(readFileSync(WEB_LSP, 'utf8'), context, { filename: WEB_LSP });
  for (const g of ['process', 'Buffer', 'setImmediate', 'require']) expect(vm.runInContext(`typeof ${g}`, context), g).toBe('undefined');
  expect(typeof self.onmessage).toBe('function');
  const send = (m: Record<string, unknown>) => self.onmessage!({ data: { jsonrpc: '2.0', ...m } });
  const waitFor = async (pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    for (let i = 0; i < 1000; i++) {
      const m = sent.find(pred);
      if (m) return m;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`timed out; got ${JSON.stringify(sent)}`);
  };

  send({ id: 1, method: 'initialize', params: { processId: null, rootUri: null, capabilities: {} } });
  const init = await waitFor((m) => m.id === 1);
  expect((init.result as { serverInfo: { name: string } }).serverInfo.name).toBe('mmutrace');
  send({ method: 'initialized', params: {} });
  const uri = 'vscode-vfs://github/x/typo.mmutrace';
  send({ method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'mmutrace', version: 1, text: 'space a\nraed 0x1000\n' } } });
  const diags = await waitFor((m) => m.method === 'textDocument/publishDiagnostics');
  const params = diags.params as { uri: string; diagnostics: { message: string; range: unknown }[] };
  expect(params.uri).toBe(uri);
  expect(params.diagnostics.map((d) => d.message)).toEqual(['unknown keyword `raed` (did you mean `read`?)']);
  send({ id: 2, method: 'textDocument/hover', params: { textDocument: { uri }, position: { line: 0, character: 1 } } });
  const hover = await waitFor((m) => m.id === 2);
  // `space` is a keyword: its hover is its sentence from the language.
  expect(JSON.stringify(hover.result)).toContain('space NAME');
});
