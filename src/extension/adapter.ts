// The debug adapter in-process: the same DebugSession as `node dist/adapter.js`,
// handed to VS Code as an inline implementation (no child process; the web
// build of VS Code runs it too). The session reads the trace through
// vscode.workspace.fs, so virtual workspaces work, and an open editor's text
// wins over the file on disk.

import * as vscode from 'vscode';
import { MmuTraceSession } from '../debug/session';

/** A `program` that is a URI (a virtual workspace), not a path. */
const URI_LIKE = /^[a-zA-Z][a-zA-Z0-9+.-]+:\/\//;

export function programUri(program: string): vscode.Uri {
  return URI_LIKE.test(program) ? vscode.Uri.parse(program) : vscode.Uri.file(program);
}

export async function readProgram(program: string): Promise<string> {
  const uri = programUri(program);
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open) return open.getText();
  try {
    return new TextDecoder('utf-8').decode(await vscode.workspace.fs.readFile(uri));
  } catch (e) {
    if (e instanceof vscode.FileSystemError && e.code === 'FileNotFound') throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    throw e;
  }
}

export function inlineAdapter(session: vscode.DebugSession): vscode.DebugAdapterDescriptor {
  const folder = session.workspaceFolder?.uri;
  const adapter = new MmuTraceSession({ readFile: readProgram, cwd: folder?.scheme === 'file' ? folder.fsPath : folder?.path });
  return new vscode.DebugAdapterInlineImplementation(adapter as unknown as vscode.DebugAdapter);
}
