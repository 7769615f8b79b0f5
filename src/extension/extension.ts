// The desktop entry point (package.json `main`, dist/extension.js): the
// language server runs in a Node process (dist/lsp.js over Node IPC).

import * as vscode from 'vscode';
import { LanguageClient, TransportKind } from 'vscode-languageclient/node';
import { inlineAdapter } from './adapter';
import { LANGUAGE_ID } from './features/debugConfig';
import { activateWith } from './register';

export function activate(context: vscode.ExtensionContext): void {
  activateWith(context, {
    createAdapter(session) {
      // `mmutrace.debugAdapter: "process"` runs dist/adapter.js in a child
      // process instead (to debug the adapter itself, or to watch its DAP on stdio).
      if (vscode.workspace.getConfiguration('mmutrace').get<string>('debugAdapter') === 'process') {
        const script = vscode.Uri.joinPath(context.extensionUri, 'dist', 'adapter.js').fsPath;
        return new vscode.DebugAdapterExecutable(process.execPath, [script], { env: { ELECTRON_RUN_AS_NODE: '1' } });
      }
      return inlineAdapter(session);
    },
    createLanguageClient(ctx) {
      const module = vscode.Uri.joinPath(ctx.extensionUri, 'dist', 'lsp.js').fsPath;
      const server = { module, transport: TransportKind.ipc };
      return new LanguageClient('mmutrace', 'mmutrace language server', { run: server, debug: server }, { documentSelector: [{ language: LANGUAGE_ID }] });
    },
  });
}

export function deactivate(): void {}
