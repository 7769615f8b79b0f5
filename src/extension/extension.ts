// The desktop entry point (package.json `main`, dist/extension.js).

import * as vscode from 'vscode';
import { inlineAdapter } from './adapter';
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
  });
}

export function deactivate(): void {}
