// The browser entry point (package.json `browser`, dist/web/extension.js):
// the same features, the debug adapter always in-process.

import type * as vscode from 'vscode';
import { inlineAdapter } from './adapter';
import { activateWith } from './register';

export function activate(context: vscode.ExtensionContext): void {
  activateWith(context, { createAdapter: (session) => inlineAdapter(session) });
}

export function deactivate(): void {}
