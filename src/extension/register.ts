// The thin layer between VS Code and the pure features: converts positions
// and ranges, caches one analysis per document version, and registers the
// providers, the commands and the debugger. Shared by the desktop entry
// (extension.ts) and the web entry (web.ts).

import * as vscode from 'vscode';
import type { Range as TraceRange } from '../trace';
import { analyze, type Position, type TraceAnalysis } from './features/analysis';
import { complete, type CompletionKind } from './features/completion';
import { DEBUG_TYPE, INITIAL_CONFIGURATION, LANGUAGE_ID, launchFor, resolveLaunch } from './features/debugConfig';
import { diagnostics, quickFixes, type EditorDiagnostic } from './features/diagnostics';
import { hover } from './features/hover';
import { COMMANDS, codeLenses, evaluatableAt } from './features/lenses';
import { compareReport, inlineValues, runReport, type LineEffect } from './features/replay';
import { LINE_EFFECTS_REQUEST } from '../debug/lineeffects';
import { checkReadable } from './adapter';
import { registerMmuMap } from './mmumap/panel';
import { definition, documentSymbols, foldingRanges, references, type SymbolKind as TraceSymbolKind, type TraceSymbol } from './features/symbols';

const COMPARE_SCHEME = 'mmutrace-compare';
const DIAGNOSTICS_DELAY_MS = 250;

export interface Host {
  /** Makes the debug adapter of a session: in-process by default. */
  createAdapter(session: vscode.DebugSession): vscode.ProviderResult<vscode.DebugAdapterDescriptor>;
}

// ---------------------------------------------------------------------------
// Conversions. The features count lines and columns from 1; VS Code from 0.

export function toRange(r: TraceRange): vscode.Range {
  return new vscode.Range(r.line - 1, Math.max(0, r.col - 1), r.endLine - 1, Math.max(0, r.endCol - 1));
}
export function fromRange(r: vscode.Range): TraceRange {
  return { line: r.start.line + 1, col: r.start.character + 1, endLine: r.end.line + 1, endCol: r.end.character + 1 };
}
function toPos(p: vscode.Position): Position {
  return { line: p.line + 1, col: p.character + 1 };
}

/** What `program` says for a document: its path on disk, or its URI in a virtual workspace. */
export function programOf(uri: vscode.Uri): string {
  return uri.scheme === 'file' ? uri.fsPath : uri.toString();
}
function baseName(uri: vscode.Uri): string {
  return uri.path.slice(uri.path.lastIndexOf('/') + 1);
}

// ---------------------------------------------------------------------------

class Analyses {
  private readonly cache = new Map<string, { version: number; analysis: TraceAnalysis }>();

  get(doc: vscode.TextDocument): TraceAnalysis {
    const key = doc.uri.toString();
    const hit = this.cache.get(key);
    if (hit && hit.version === doc.version) return hit.analysis;
    const analysis = analyze(doc.getText());
    this.cache.set(key, { version: doc.version, analysis });
    return analysis;
  }

  forget(doc: vscode.TextDocument): void {
    this.cache.delete(doc.uri.toString());
  }
}

const COMPLETION_KINDS: Record<CompletionKind, vscode.CompletionItemKind> = {
  keyword: vscode.CompletionItemKind.Keyword,
  value: vscode.CompletionItemKind.EnumMember,
  flag: vscode.CompletionItemKind.Constant,
  level: vscode.CompletionItemKind.Enum,
  option: vscode.CompletionItemKind.Property,
  space: vscode.CompletionItemKind.Module,
  label: vscode.CompletionItemKind.Reference,
  name: vscode.CompletionItemKind.Variable,
  function: vscode.CompletionItemKind.Function,
  constant: vscode.CompletionItemKind.Constant,
  member: vscode.CompletionItemKind.Field,
};

const SYMBOL_KINDS: Record<TraceSymbolKind, vscode.SymbolKind> = {
  section: vscode.SymbolKind.String,
  space: vscode.SymbolKind.Namespace,
  label: vscode.SymbolKind.Event,
};

function toSymbol(s: TraceSymbol): vscode.DocumentSymbol {
  const d = new vscode.DocumentSymbol(s.name, s.detail, SYMBOL_KINDS[s.kind], toRange(s.range), toRange(s.selectionRange));
  d.children = s.children.map(toSymbol);
  return d;
}

/** The text of a trace: the open document's (unsaved edits included), else the file's, through workspace.fs. */
async function readTrace(uri: vscode.Uri): Promise<string> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open) return open.getText();
  await checkReadable(uri);
  return new TextDecoder('utf-8').decode(await vscode.workspace.fs.readFile(uri));
}

/** The trace a command is about: its argument (a URI from a lens, a menu or the explorer), else the active editor's. */
function targetUri(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  const doc = vscode.window.activeTextEditor?.document;
  if (doc && doc.languageId === LANGUAGE_ID) return doc.uri;
  return undefined;
}

export function activateWith(context: vscode.ExtensionContext, host: Host): void {
  const subs = context.subscriptions;
  const selector: vscode.DocumentSelector = { language: LANGUAGE_ID };
  const analyses = new Analyses();
  const output = vscode.window.createOutputChannel('mmutrace');
  subs.push(output);

  // Diagnostics as you type, debounced.
  const collection = vscode.languages.createDiagnosticCollection(LANGUAGE_ID);
  subs.push(collection);
  const editorDiags = new Map<string, EditorDiagnostic[]>();
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  const refresh = (doc: vscode.TextDocument): void => {
    if (doc.languageId !== LANGUAGE_ID) return;
    const diags = diagnostics(analyses.get(doc));
    editorDiags.set(doc.uri.toString(), diags);
    collection.set(
      doc.uri,
      diags.map((d) => {
        const v = new vscode.Diagnostic(toRange(d.range), d.message, d.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
        v.source = 'mmutrace';
        return v;
      }),
    );
  };
  const schedule = (doc: vscode.TextDocument, delay = DIAGNOSTICS_DELAY_MS): void => {
    if (doc.languageId !== LANGUAGE_ID) return;
    const key = doc.uri.toString();
    clearTimeout(timers.get(key));
    timers.set(
      key,
      setTimeout(() => {
        timers.delete(key);
        if (!doc.isClosed) refresh(doc);
      }, delay),
    );
  };
  subs.push(
    vscode.workspace.onDidOpenTextDocument((d) => schedule(d, 0)),
    vscode.workspace.onDidChangeTextDocument((e) => schedule(e.document)),
    vscode.workspace.onDidCloseTextDocument((d) => {
      clearTimeout(timers.get(d.uri.toString()));
      timers.delete(d.uri.toString());
      editorDiags.delete(d.uri.toString());
      collection.delete(d.uri);
      analyses.forget(d);
    }),
    { dispose: () => timers.forEach((t) => clearTimeout(t)) },
  );
  for (const d of vscode.workspace.textDocuments) schedule(d, 0);

  // Quick fixes from the parser's fixes.
  subs.push(
    vscode.languages.registerCodeActionsProvider(
      selector,
      {
        provideCodeActions(doc, range, ctx) {
          if (!editorDiags.has(doc.uri.toString())) refresh(doc);
          const fixes = quickFixes(editorDiags.get(doc.uri.toString()) ?? [], fromRange(range));
          return fixes.map((f) => {
            const action = new vscode.CodeAction(f.title, vscode.CodeActionKind.QuickFix);
            action.edit = new vscode.WorkspaceEdit();
            action.edit.replace(doc.uri, toRange(f.edit.range), f.edit.newText);
            action.isPreferred = f.preferred;
            const where = toRange(f.diagnostic.range);
            const match = [...ctx.diagnostics, ...vscode.languages.getDiagnostics(doc.uri)].find(
              (d) => d.source === 'mmutrace' && d.message === f.diagnostic.message && d.range.isEqual(where),
            );
            if (match) action.diagnostics = [match];
            return action;
          });
        },
      },
      { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] },
    ),
  );

  subs.push(
    vscode.languages.registerHoverProvider(selector, {
      provideHover(doc, pos) {
        const h = hover(analyses.get(doc), toPos(pos));
        return h ? new vscode.Hover(new vscode.MarkdownString(h.markdown), toRange(h.range)) : undefined;
      },
    }),
    vscode.languages.registerCompletionItemProvider(
      selector,
      {
        provideCompletionItems(doc, pos) {
          return complete(analyses.get(doc), toPos(pos)).map((c) => {
            const item = new vscode.CompletionItem(c.label, COMPLETION_KINDS[c.kind]);
            item.detail = c.detail;
            if (c.documentation) item.documentation = new vscode.MarkdownString(c.documentation);
            item.insertText = c.insertText ?? c.label;
            item.range = toRange(c.range);
            item.sortText = c.sortText;
            return item;
          });
        },
      },
      '@',
      '.',
      ' ',
    ),
    vscode.languages.registerDocumentSymbolProvider(selector, {
      provideDocumentSymbols(doc) {
        return documentSymbols(analyses.get(doc)).map(toSymbol);
      },
    }),
    vscode.languages.registerDefinitionProvider(selector, {
      provideDefinition(doc, pos) {
        const r = definition(analyses.get(doc), toPos(pos));
        return r ? new vscode.Location(doc.uri, toRange(r)) : undefined;
      },
    }),
    vscode.languages.registerReferenceProvider(selector, {
      provideReferences(doc, pos, ctx) {
        return references(analyses.get(doc), toPos(pos), ctx.includeDeclaration).map((r) => new vscode.Location(doc.uri, toRange(r)));
      },
    }),
    vscode.languages.registerFoldingRangeProvider(selector, {
      provideFoldingRanges(doc) {
        return foldingRanges(analyses.get(doc)).map(
          (f) => new vscode.FoldingRange(f.start - 1, f.end - 1, f.kind === 'comment' ? vscode.FoldingRangeKind.Comment : vscode.FoldingRangeKind.Region),
        );
      },
    }),
    vscode.languages.registerCodeLensProvider(selector, {
      provideCodeLenses(doc) {
        return codeLenses(analyses.get(doc)).map(
          (l) => new vscode.CodeLens(toRange(l.range), { title: l.title, tooltip: l.tooltip, command: l.command, arguments: [doc.uri] }),
        );
      },
    }),
    vscode.languages.registerEvaluatableExpressionProvider(selector, {
      provideEvaluatableExpression(doc, pos) {
        const e = evaluatableAt(analyses.get(doc), toPos(pos));
        return e ? new vscode.EvaluatableExpression(toRange(e.range), e.expression) : undefined;
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
