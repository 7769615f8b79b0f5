// The desktop language client (vscode-languageclient/node), in a bundle of
// its own (dist/client.js): extension.ts loads it after activate() has
// returned, so that evaluating the client library (~430 KB) does not lengthen
// the extension's activation.

import * as vscode from 'vscode';
import { LanguageClient, TransportKind } from 'vscode-languageclient/node';
import { LANGUAGE_ID } from './features/debugConfig';

export function createNodeClient(extensionUri: vscode.Uri): LanguageClient {
  const module = vscode.Uri.joinPath(extensionUri, 'dist', 'lsp.js').fsPath;
  const server = { module, transport: TransportKind.ipc };
  return new LanguageClient('mmutrace', 'mmutrace language server', { run: server, debug: server }, { documentSelector: [{ language: LANGUAGE_ID }] });
}
