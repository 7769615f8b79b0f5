// The language server in a browser web worker (VS Code for the web):
// dist/web/lsp.js, started by src/extension/web.ts.

import { BrowserMessageReader, BrowserMessageWriter, createConnection } from 'vscode-languageserver/browser';
import { startServer } from './server';

declare const self: { postMessage(m: unknown): void; onmessage: unknown };

const worker = self as unknown as ConstructorParameters<typeof BrowserMessageReader>[0];
startServer(createConnection(new BrowserMessageReader(worker), new BrowserMessageWriter(worker)));
