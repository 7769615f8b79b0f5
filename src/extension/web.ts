// The browser entry point (package.json `browser`, dist/web/extension.js):
// the same features, the debug adapter always in-process, the language server
// in a web worker (dist/web/lsp.js).

import * as vscode from 'vscode';
import { LanguageClient } from 'vscode-languageclient/browser';
import { inlineAdapter } from './adapter';
import { LANGUAGE_ID } from './features/debugConfig';
import { activateWith } from './register';

declare const Worker: (new (url: string) => ConstructorParameters<typeof LanguageClient>[3]) | undefined;

export function activate(context: vscode.ExtensionContext): void {
  activateWith(context, {
    createAdapter: (session) => inlineAdapter(session),
    createLanguageClient(ctx) {
      if (typeof Worker !== 'function') return undefined;
      const worker = new Worker(vscode.Uri.joinPath(ctx.extensionUri, 'dist', 'web', 'lsp.js').toString(true));
      return new LanguageClient('mmutrace', 'mmutrace language server', { documentSelector: [{ language: LANGUAGE_ID }] }, worker);
    },
  });
  // Recording runs Valgrind: desktop only (the command is hidden here; run anyway, it says so).
  context.subscriptions.push(
    vscode.commands.registerCommand('mmutrace.recordProgram', () =>
      vscode.window.showInformationMessage('mmutrace: Record a Program needs VS Code on the desktop: it runs the program under Valgrind.'),
    ),
  );
}

export function deactivate(): void {}
