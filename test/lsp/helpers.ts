// A language client for the tests: spawns the built server as an editor does
// (`node dist/cli.js lsp --stdio`) and speaks LSP to it over its stdio.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
  type PublishDiagnosticsParams,
} from 'vscode-languageserver/node';

export const ROOT = resolve(__dirname, '../..');
export const CLI = resolve(ROOT, 'dist/cli.js');

export interface Client {
  conn: MessageConnection;
  child: ChildProcess;
  /** Every publishDiagnostics, in order of arrival. */
  published: PublishDiagnosticsParams[];
  /** Everything that arrived (notifications by method, responses as 'response:<name>'), in order. */
  log: string[];
  /** The next publishDiagnostics for `uri` (after the ones already seen) that `pred` accepts. */
  diagnosticsFor(uri: string, pred?: (p: PublishDiagnosticsParams) => boolean): Promise<PublishDiagnosticsParams>;
  open(uri: string, text: string, version?: number): void;
  close(): Promise<void>;
  stderr(): string;
}

export async function startClient(args: string[] = [CLI, 'lsp', '--stdio']): Promise<Client> {
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build`');
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const conn = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  const published: PublishDiagnosticsParams[] = [];
  const log: string[] = [];
  const waiters: (() => void)[] = [];
  conn.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
    published.push(p);
    log.push(`diagnostics:${p.uri}@${p.version}`);
    for (const w of waiters.splice(0)) w();
  });
  conn.onNotification(() => {});
  conn.onRequest(() => null);
  conn.listen();
  const seen = new Map<string, number>();
  const client: Client = {
    conn,
    child,
    published,
    log,
    async diagnosticsFor(uri, pred = () => true) {
      for (;;) {
        const from = seen.get(uri) ?? 0;
        const i = published.findIndex((p, k) => k >= from && p.uri === uri && pred(p));
        if (i >= 0) {
          seen.set(uri, i + 1);
          return published[i]!;
        }
        if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}): ${err}`);
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    open(uri, text, version = 1) {
      void conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'mmutrace', version, text } });
    },
    async close() {
      try {
        await conn.sendRequest('shutdown');
        await conn.sendNotification('exit');
      } catch {
        /* already gone */
      }
      await new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        const t = setTimeout(() => (child.kill(), r()), 5000);
        child.on('exit', () => (clearTimeout(t), r()));
      });
      conn.dispose();
    },
    stderr: () => err,
  };
  const init = await conn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
  (client as Client & { init: unknown }).init = init;
  await conn.sendNotification('initialized', {});
  return client;
}
