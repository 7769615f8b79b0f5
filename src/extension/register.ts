// The thin layer between VS Code and the pure features: starts the language
// server (src/lsp, through the host: a Node process on the desktop, a web
// worker in the browser), which gives diagnostics, quick fixes, hover,
// completion, symbols, definition, references and folding; registers the code
// lenses, the debugger's hovers and inline values, the commands and the
// debugger. The extension host never parses a trace as you type. Shared by the
// desktop entry (extension.ts) and the web entry (web.ts).

import * as vscode from 'vscode';
import type { Range as TraceRange } from '../trace';
import { DEBUG_TYPE, INITIAL_CONFIGURATION, LANGUAGE_ID, launchFor, resolveLaunch } from './features/debugConfig';
import { COMMANDS, lensesFor } from './features/lenses';
import { compareReport, inlineValues, runReport, type LineEffect } from './features/replay';
import { LINE_EFFECTS_REQUEST } from '../debug/lineeffects';
import { checkReadable } from './adapter';
import { EVALUATABLE_REQUEST } from '../lsp/protocol';
import { registerMmuMap } from './mmumap/panel';
import { registerTesting } from './testing/controller';

const COMPARE_SCHEME = 'mmutrace-compare';

/** What the extension needs of a language client (vscode-languageclient's, desktop or browser). */
export interface LanguageClientLike {
  start(): Promise<void>;
  stop(): Promise<void>;
  sendRequest<R>(method: string, params: unknown, token?: vscode.CancellationToken): Promise<R>;
}

export interface Host {
  /** Makes the debug adapter of a session: in-process by default. */
  createAdapter(session: vscode.DebugSession): vscode.ProviderResult<vscode.DebugAdapterDescriptor>;
  /** Makes the client of the language server (src/lsp), not started; undefined where none can run. */
  createLanguageClient(context: vscode.ExtensionContext): LanguageClientLike | undefined;
}

// ---------------------------------------------------------------------------
// Conversions. The features count lines and columns from 1; VS Code from 0.

export function toRange(r: TraceRange): vscode.Range {
  return new vscode.Range(r.line - 1, Math.max(0, r.col - 1), r.endLine - 1, Math.max(0, r.endCol - 1));
}

/** What `program` says for a document: its path on disk, or its URI in a virtual workspace. */
export function programOf(uri: vscode.Uri): string {
  return uri.scheme === 'file' ? uri.fsPath : uri.toString();
}
function baseName(uri: vscode.Uri): string {
  return uri.path.slice(uri.path.lastIndexOf('/') + 1);
}

/** The text of a trace: the open document's (unsaved edits included), else the file's, through workspace.fs. */
async function readTrace(uri: vscode.Uri): Promise<string> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open) return open.getText();
  await checkReadable(uri);
  return new TextDecoder('utf-8').decode(await vscode.workspace.fs.readFile(uri));
}

/** The trace last shown in a text editor, still open: what a command means when no editor is active (a walkthrough page is). */
let lastTrace: vscode.Uri | undefined;

/**
 * The trace a command is about: its argument (a URI from a lens, a menu or
 * the explorer), else the active editor's, else (the walkthrough's buttons,
 * pressed with the walkthrough in front) the trace last shown in an editor.
 */
function targetUri(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  const doc = vscode.window.activeTextEditor?.document;
  if (doc && doc.languageId === LANGUAGE_ID) return doc.uri;
  if (!doc && lastTrace && vscode.workspace.textDocuments.some((d) => d.uri.toString() === lastTrace!.toString())) return lastTrace;
  return undefined;
}

export function activateWith(context: vscode.ExtensionContext, host: Host): void {
  const subs = context.subscriptions;
  const selector: vscode.DocumentSelector = { language: LANGUAGE_ID };
  const output = vscode.window.createOutputChannel('mmutrace');
  subs.push(output);
  const noteTrace = (e: vscode.TextEditor | undefined): void => {
    if (e?.document.languageId === LANGUAGE_ID) lastTrace = e.document.uri;
  };
  noteTrace(vscode.window.activeTextEditor);
  subs.push(vscode.window.onDidChangeActiveTextEditor(noteTrace));

  // The language server: diagnostics, quick fixes, hover, completion, symbols,
  // definition, references and folding come from it.
  const client = host.createLanguageClient(context);
  if (client) {
    client.start().catch((e: unknown) => output.appendLine(`mmutrace: the language server did not start: ${(e as Error)?.message ?? String(e)}`));
    subs.push({ dispose: () => void client.stop().catch(() => {}) });
  } else {
    output.appendLine('mmutrace: no language server here (no web worker): no diagnostics, hovers or completion.');
  }

  // The lenses at the top of a trace; their tooltips count the server's errors.
  const lensesChanged = new vscode.EventEmitter<void>();
  subs.push(
    lensesChanged,
    vscode.languages.onDidChangeDiagnostics((e) => {
      if (e.uris.some((u) => vscode.workspace.textDocuments.some((d) => d.languageId === LANGUAGE_ID && d.uri.toString() === u.toString()))) lensesChanged.fire();
    }),
  );
  subs.push(
    vscode.languages.registerCodeLensProvider(selector, {
      onDidChangeCodeLenses: lensesChanged.event,
      provideCodeLenses(doc) {
        const errors = vscode.languages.getDiagnostics(doc.uri).filter((d) => d.source === 'mmutrace' && d.severity === vscode.DiagnosticSeverity.Error).length;
        return lensesFor(errors).map(
          (l) => new vscode.CodeLens(toRange(l.range), { title: l.title, tooltip: l.tooltip, command: l.command, arguments: [doc.uri] }),
        );
      },
    }),
    // What the debugger evaluates under the mouse: asked of the server (it holds the analysis).
    vscode.languages.registerEvaluatableExpressionProvider(selector, {
      async provideEvaluatableExpression(doc, pos, token) {
        if (!client) return undefined;
        try {
          const e = await client.sendRequest<{ range: { start: { line: number; character: number }; end: { line: number; character: number } }; expression: string } | null>(
            EVALUATABLE_REQUEST,
            { textDocument: { uri: doc.uri.toString() }, position: { line: pos.line, character: pos.character } },
            token,
          );
          if (!e) return undefined;
          return new vscode.EvaluatableExpression(new vscode.Range(e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character), e.expression);
        } catch {
          return undefined; // the server is gone or the document changed meanwhile
        }
      },
    }),
  );

  // Inline values: what each line run so far did, as the adapter recorded it
  // (the custom request `lineEffects`, asked for the visible lines above the
  // stop only). The extension does not replay the trace itself.
  subs.push(
    vscode.languages.registerInlineValuesProvider(selector, {
      async provideInlineValues(doc, viewPort, ctx) {
        const session = vscode.debug.activeDebugSession;
        if (!session || session.type !== DEBUG_TYPE) return undefined;
        const stoppedLine = ctx.stoppedLocation.start.line + 1;
        const startLine = viewPort.start.line + 1;
        const endLine = Math.min(viewPort.end.line + 1, stoppedLine - 1);
        if (endLine < startLine) return [];
        let effects: LineEffect[];
        try {
          const body = (await session.customRequest(LINE_EFFECTS_REQUEST, { startLine, endLine })) as { lines?: LineEffect[] } | undefined;
          if (!Array.isArray(body?.lines)) return undefined;
          effects = body.lines;
        } catch {
          return undefined; // the session moved on, or an adapter without the request
        }
        return inlineValues(effects, stoppedLine, startLine, endLine).map((v) => {
          const end = doc.lineAt(v.line - 1).range.end;
          return new vscode.InlineValueText(new vscode.Range(end, end), v.text);
        });
      },
    }),
  );

  // Compare Policies shows its table in a read-only virtual document.
  const compareDocs = new vscode.EventEmitter<vscode.Uri>();
  subs.push(
    compareDocs,
    vscode.workspace.registerTextDocumentContentProvider(COMPARE_SCHEME, {
      onDidChange: compareDocs.event,
      async provideTextDocumentContent(uri) {
        const target = vscode.Uri.parse(decodeURIComponent(uri.query));
        const text = await readTrace(target);
        return compareReport(text, baseName(target)).text + '\n';
      },
    }),
  );

  // Commands.
  const needTrace = (): void => void vscode.window.showWarningMessage('Open a .mmutrace file first.');
  subs.push(
    vscode.commands.registerCommand(COMMANDS.debug, async (arg?: unknown) => {
      const uri = targetUri(arg);
      if (!uri) return needTrace();
      await vscode.debug.startDebugging(vscode.workspace.getWorkspaceFolder(uri), launchFor(programOf(uri), baseName(uri)));
    }),
    vscode.commands.registerCommand(COMMANDS.run, async (arg?: unknown) => {
      const uri = targetUri(arg);
      if (!uri) return needTrace();
      let report: { ok: boolean; text: string };
      try {
        report = runReport(await readTrace(uri), vscode.workspace.asRelativePath(uri));
      } catch (e) {
        report = { ok: false, text: `${baseName(uri)}: ${(e as Error).message}` };
      }
      output.appendLine(report.text);
      output.appendLine('');
      output.show(true);
      if (!report.ok) void vscode.window.showWarningMessage(`mmutrace: ${baseName(uri)} did not run cleanly; see the output.`);
    }),
    vscode.commands.registerCommand(COMMANDS.compare, async (arg?: unknown) => {
      const uri = targetUri(arg);
      if (!uri) return needTrace();
      const view = vscode.Uri.from({ scheme: COMPARE_SCHEME, path: `/${baseName(uri)} (policies)`, query: encodeURIComponent(uri.toString()) });
      compareDocs.fire(view);
      const doc = await vscode.workspace.openTextDocument(view);
      await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
    }),
    vscode.commands.registerCommand(COMMANDS.openExample, async () => {
      const uri = vscode.Uri.joinPath(context.extensionUri, 'examples', 'demand-fault.mmutrace');
      const doc = await vscode.workspace.openTextDocument(uri);
      await vscode.window.showTextDocument(doc);
    }),
  );

  // The MMU Map panel (src/extension/mmumap).
  registerMmuMap(context);

  // The Testing view: a trace's `expect` lines as tests (src/extension/testing).
  registerTesting(context);

  // The debugger.
  subs.push(
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, {
      provideDebugConfigurations() {
        return [INITIAL_CONFIGURATION];
      },
      resolveDebugConfiguration(_folder, config) {
        const doc = vscode.window.activeTextEditor?.document;
        const active = doc ? { program: programOf(doc.uri), name: baseName(doc.uri), languageId: doc.languageId } : undefined;
        const r = resolveLaunch(config, active);
        if ('error' in r) {
          void vscode.window.showInformationMessage(r.error);
          return undefined;
        }
        return r.config;
      },
    }),
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, {
      createDebugAdapterDescriptor(session) {
        return host.createAdapter(session);
      },
    }),
  );
}
