// `npm run bench:lsp`: the language server with a 1M-line trace being edited.
// For each keystroke (a didChange of two characters), the time until the
// server publishes the diagnostics of that version; meanwhile a request about
// another document every few milliseconds, and how long each waited. Side by
// side in the same run: the analysis of the same text in this process (what
// the server must do at least for each version).

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type PublishDiagnosticsParams } from 'vscode-languageserver/node';
import { analyze } from '../src/extension/features/analysis';
import { bigTrace } from '../test/lsp/big';

const LINES = Number(process.env.LSP_BENCH_LINES ?? 1_000_000);
const KEYSTROKES = 4;
const BIG = 'file:///bench/big.mmutrace';
const SMALL = 'file:///bench/demand-fault.mmutrace';
const ROOT = resolve(__dirname, '..');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

async function main(): Promise<void> {
  const text = bigTrace(LINES);
  const inProc: number[] = [];
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    analyze(text);
    inProc.push(performance.now() - t0);
  }

  const child = spawn(process.execPath, [resolve(ROOT, 'dist/lsp.js'), '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const waiting = new Map<string, (p: PublishDiagnosticsParams) => void>();
  conn.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => waiting.get(`${p.uri}@${p.version}`)?.(p));
  conn.listen();
  const diagnostics = (uri: string, version: number) => new Promise<PublishDiagnosticsParams>((r) => waiting.set(`${uri}@${version}`, r));
  await conn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
  await conn.sendNotification('initialized', {});
  const small = diagnostics(SMALL, 1);
  await conn.sendNotification('textDocument/didOpen', { textDocument: { uri: SMALL, languageId: 'mmutrace', version: 1, text: readFileSync(resolve(ROOT, 'examples/demand-fault.mmutrace'), 'utf8') } });
  await small;

  // While `busy` holds, a documentSymbol request about the small document every 5 ms.
  const latencies: number[] = [];
  const probe = async (busy: () => boolean): Promise<void> => {
    while (busy()) {
      const t0 = performance.now();
      await conn.sendRequest('textDocument/documentSymbol', { textDocument: { uri: SMALL } });
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  let t0 = performance.now();
  const opened = diagnostics(BIG, 1);
  await conn.sendNotification('textDocument/didOpen', { textDocument: { uri: BIG, languageId: 'mmutrace', version: 1, text } });
  await opened;
  const openMs = performance.now() - t0;

  const keystroke: number[] = [];
  for (let k = 0; k < KEYSTROKES; k++) {
    const version = k + 2;
    const line = 400000 + 4 * k;
    const got = diagnostics(BIG, version);
    let done = false;
    t0 = performance.now();
    await conn.sendNotification('textDocument/didChange', {
      textDocument: { uri: BIG, version },
      contentChanges: [{ range: { start: { line, character: 1 }, end: { line, character: 3 } }, text: k % 2 ? 'ea' : 'ae' }],
    });
    const probing = probe(() => !done);
    const p = await got;
    keystroke.push(performance.now() - t0);
    done = true;
    await probing;
    if (p.diagnostics.length !== (k % 2 ? 1 : 1) && k === 0) throw new Error('expected the typo to be reported');
  }
  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  conn.dispose();

  const f = (x: number) => x.toFixed(0);
  console.log(`language server, ${LINES} lines (${(text.length / 1e6).toFixed(1)} MB):`);
  console.log(`  analysis in this process:        ${inProc.map(f).join(', ')} ms`);
  console.log(`  didOpen -> publishDiagnostics:   ${f(openMs)} ms (the text sent over stdio, then analyzed)`);
  console.log(`  keystroke -> publishDiagnostics: ${keystroke.map(f).join(', ')} ms (median ${f(median(keystroke))}; ${(median(keystroke) / median(inProc)).toFixed(2)}x the in-process analysis)`);
  console.log(`  other requests meanwhile:        ${latencies.length} answered, median ${median(latencies).toFixed(1)} ms, worst ${Math.max(...latencies).toFixed(1)} ms`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
