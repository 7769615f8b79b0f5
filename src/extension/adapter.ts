// The debug adapter in-process: the same DebugSession as `node dist/adapter.js`,
// handed to VS Code as an inline implementation (no child process; the web
// build of VS Code runs it too). An open editor's text wins over the file on
// disk. Otherwise, on the desktop a local file (`file:`) is read in parts
// like the adapter process reads it (src/debug/filesource.ts: the head before
// the first stop, the rest indexed in the background, up to 4 GiB); the web
// build and virtual workspaces read the whole text through
// vscode.workspace.fs (500 MiB).

import * as vscode from 'vscode';
import { MmuTraceSession } from '../debug/session';
import type { TraceSource } from '../debug/source';
import { MAX_TRACE_BYTES, tooLargeText } from '../io/limits';

/** A `program` that is a URI (a virtual workspace), not a path. */
const URI_LIKE = /^[a-zA-Z][a-zA-Z0-9+.-]+:\/\//;

export function programUri(program: string): vscode.Uri {
  return URI_LIKE.test(program) ? vscode.Uri.parse(program) : vscode.Uri.file(program);
}

/**
 * Refuses, before reading, what is not a regular file (a device such as
 * /dev/zero or a FIFO would be read without end or block) or is over the cap.
 */
export async function checkReadable(uri: vscode.Uri): Promise<void> {
  const st = await vscode.workspace.fs.stat(uri);
  if (st.type & vscode.FileType.Directory) throw new Error('it is a directory');
  if (!(st.type & vscode.FileType.File)) throw new Error('it is not a regular file');
  if (st.size > MAX_TRACE_BYTES) throw new Error(tooLargeText());
}

export async function readProgram(program: string): Promise<string> {
  const uri = programUri(program);
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open) return open.getText();
  try {
    await checkReadable(uri);
    return new TextDecoder('utf-8').decode(await vscode.workspace.fs.readFile(uri));
  } catch (e) {
    if (e instanceof vscode.FileSystemError && e.code === 'FileNotFound') throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    throw e;
  }
}

/** The desktop's opener: an open editor's text, a local file in parts, else the whole text through vscode.workspace.fs. */
export async function openProgram(program: string): Promise<string | TraceSource> {
  const uri = programUri(program);
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open) return open.getText();
  if (uri.scheme !== 'file') return readProgram(program);
  // Imported here: the web build has a stub in its place (build.mjs), and never comes here.
  const { openFileSource } = await import('../debug/filesource');
  return openFileSource(uri.fsPath);
}

/**
 * The in-process session. `localFiles`: the desktop, where a `file:` trace is
 * read in parts from the disk (the web build reads through workspace.fs).
 */
export function inlineAdapter(session: vscode.DebugSession, localFiles = false): vscode.DebugAdapterDescriptor {
  const folder = session.workspaceFolder?.uri;
  const cwd = folder?.scheme === 'file' ? folder.fsPath : folder?.path;
  const adapter = new MmuTraceSession(localFiles ? { openSource: openProgram, cwd } : { readFile: readProgram, cwd });
  return new vscode.DebugAdapterInlineImplementation(adapter as unknown as vscode.DebugAdapter);
}
