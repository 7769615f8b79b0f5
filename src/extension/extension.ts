// The desktop entry point (package.json `main`, dist/extension.js): the
// language server runs in a Node process (dist/lsp.js over Node IPC), its
// client comes from dist/client.js (client-node.ts), loaded on the turn after
// activation.

import * as vscode from 'vscode';
import { inlineAdapter } from './adapter';
import type { createNodeClient } from './client-node';
import { registerRecordCommand } from './record';
import { registerTasks } from './tasks/provider';
import { activateWith, type LanguageClientLike } from './register';

declare const __non_webpack_require__: NodeJS.Require | undefined;

export function activate(context: vscode.ExtensionContext): void {
  activateWith(context, {
    createAdapter(session) {
      // `mmutrace.debugAdapter: "process"` runs dist/adapter.js in a child
      // process instead (to debug the adapter itself, or to watch its DAP on stdio).
      if (vscode.workspace.getConfiguration('mmutrace').get<string>('debugAdapter') === 'process') {
        const script = vscode.Uri.joinPath(context.extensionUri, 'dist', 'adapter.js').fsPath;
        return new vscode.DebugAdapterExecutable(process.execPath, [script], { env: { ELECTRON_RUN_AS_NODE: '1' } });
      }
      return inlineAdapter(session, true);
    },
    createLanguageClient(ctx) {
      let client: LanguageClientLike | undefined;
      const load = (): LanguageClientLike => {
        if (!client) {
          const file = vscode.Uri.joinPath(ctx.extensionUri, 'dist', 'client.js').fsPath;
          const req = typeof __non_webpack_require__ === 'function' ? __non_webpack_require__ : require;
          const mod = req(file) as { createNodeClient: typeof createNodeClient };
          client = mod.createNodeClient(ctx.extensionUri);
        }
        return client;
      };
      return {
        start: () => new Promise<void>((r) => setTimeout(r, 0)).then(() => load().start()),
        stop: () => (client ? client.stop() : Promise.resolve()),
        sendRequest: <R>(method: string, params: unknown, token?: vscode.CancellationToken) => load().sendRequest<R>(method, params, token),
      };
    },
  });
  registerRecordCommand(context);
  // The `mmutrace` task type and its provider (they run the bundled CLI: desktop only).
  registerTasks(context);
}

export function deactivate(): void {}
