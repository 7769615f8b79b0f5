// The language server in Node: `mmutrace lsp --stdio` (src/cli) and
// dist/lsp.js (started by the VS Code extension over Node IPC, or by any
// editor with `node dist/lsp.js --stdio`).

import { createConnection, IPCMessageReader, IPCMessageWriter } from 'vscode-languageserver/node';
import { startServer } from './server';

export const LSP_USAGE = 'usage: mmutrace lsp --stdio | --node-ipc';

declare const MMUTRACE_VERSION: string | undefined;

/** Starts the server on the transport that `argv` names; returns an error message instead when it names none. */
export function startNodeServer(argv: readonly string[]): string | undefined {
  const unknown = argv.filter((a) => a !== '--stdio' && a !== '--node-ipc' && !a.startsWith('--clientProcessId'));
  if (unknown.length) return `unknown option \`${unknown[0]}\``;
  const version = typeof MMUTRACE_VERSION === 'string' ? MMUTRACE_VERSION : '0';
  if (argv.includes('--node-ipc')) {
    if (typeof process.send !== 'function') return '--node-ipc needs a parent process that opened an IPC channel';
    startServer(createConnection(new IPCMessageReader(process), new IPCMessageWriter(process)), version);
    return undefined;
  }
  if (argv.includes('--stdio')) {
    // Given the streams (not readers over them), the library ends the process when stdin ends.
    startServer(createConnection(process.stdin, process.stdout), version);
    return undefined;
  }
  return 'say which transport: --stdio or --node-ipc';
}
