// The command "mmutrace: Record a Program…" (desktop only): asks for a
// command line, runs it under Valgrind's lackey with the children traced,
// converts the log as it comes (src/record) with a cancellable progress
// notification, and opens the recorded trace.

import * as vscode from 'vscode';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { CommandLineError, splitCommandLine } from '../record/cmdline';
import { summaryText } from '../record/convert';
import { convertLog } from '../record/pipeline';
import { traceCommand, VALGRIND_MISSING, valgrindArgs, valgrindVersion } from '../record/valgrind';

export const RECORD_COMMAND = 'mmutrace.recordProgram';
/** The editor opens what it records: a trace stops at this many access events. */
export const RECORD_MAX_EVENTS = 2_000_000;

function freePath(dir: string, name: string): string {
  for (let i = 0; ; i++) {
    const p = join(dir, `${name}${i ? `-${i}` : ''}.mmutrace`);
    if (!existsSync(p)) return p;
  }
}

async function recordProgram(): Promise<void> {
  const line = await vscode.window.showInputBox({
    title: 'mmutrace: Record a Program',
    prompt: 'A command line to run under Valgrind (lackey); its memory accesses become a .mmutrace trace',
    placeHolder: 'ls -l /usr/bin',
    ignoreFocusOut: true,
    validateInput(v) {
      try {
        return splitCommandLine(v).length === 0 ? 'Type a command' : undefined;
      } catch (e) {
        return (e as CommandLineError).message;
      }
    },
  });
  if (!line) return;
  const words = splitCommandLine(line);
  const version = valgrindVersion();
  if (version === null) {
    void vscode.window.showErrorMessage(VALGRIND_MISSING);
    return;
  }
  const dir = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? tmpdir();
  const out = freePath(dir, basename(words[0]!).replace(/[^A-Za-z0-9_.-]/g, '_'));
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Recording ${line}`, cancellable: true },
    async (progress, token) => {
      const traced = traceCommand(words, { traceChildren: true, stdio: ['ignore', 'ignore', 'ignore'], cwd: dir });
      traced.exited.catch(() => undefined);
      const cancel = token.onCancellationRequested(() => traced.kill());
      try {
        const stats = await convertLog(
          traced.log,
          out,
          {
            mode: '64',
            maxEvents: RECORD_MAX_EVENTS,
            origin: [
              `Recorded in VS Code ("mmutrace: Record a Program…"), as: mmutrace record --trace-children --max-events ${RECORD_MAX_EVENTS} --out ${basename(out)} -- ${line}`,
              `which ran: valgrind ${valgrindArgs(words, true).join(' ')} (${version}) in ${dir}`,
            ],
          },
          {
            onStop: () => traced.kill(),
            progress: (s) => progress.report({ message: `${s.accesses.toLocaleString('en')} accesses read, ${s.events.toLocaleString('en')} events written` }),
          },
        );
        return token.isCancellationRequested ? null : stats;
      } finally {
        cancel.dispose();
      }
    },
  );
  if (result === null) {
    rmSync(out, { force: true });
    return;
  }
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(out));
  await vscode.window.showTextDocument(doc);
  void vscode.window.showInformationMessage(`Recorded ${basename(out)}: ${summaryText(result)}${result.stopped ? ` (stopped at ${RECORD_MAX_EVENTS.toLocaleString('en')} events)` : ''}`);
}

/** Registers the command (desktop). */
export function registerRecordCommand(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(RECORD_COMMAND, () =>
      recordProgram().catch((e: unknown) => {
        void vscode.window.showErrorMessage(`mmutrace: recording failed: ${(e as Error).message}`);
      }),
    ),
  );
}
