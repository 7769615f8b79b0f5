// The mmutrace language server: the pure editor features
// (src/extension/features) behind the Language Server Protocol. Transport-free:
// node.ts runs it over stdio or Node IPC (`mmutrace lsp --stdio`,
// dist/lsp.js), browser.ts in a web worker (VS Code for the web).
//
// Diagnostics come when a version of a document has been analyzed; the
// analysis runs in slices (analyses.ts), so a 1M-line trace never holds up
// the answers to other requests. A request about a document waits for the
// analysis of the document's current version, never longer.

import {
  CodeActionKind,
  ErrorCodes,
  ResponseError,
  TextDocuments,
  TextDocumentSyncKind,
  type CodeAction,
  type Connection,
  type InitializeResult,
  type Position,
  type Range,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { TraceAnalysis } from '../extension/features/analysis';
import { complete } from '../extension/features/completion';
import { diagnostics, quickFixes } from '../extension/features/diagnostics';
import { hover } from '../extension/features/hover';
import { evaluatableAt } from '../extension/features/lenses';
import { definition, documentSymbols, foldingRanges, references } from '../extension/features/symbols';
import { Analyses } from './analyses';
import { EVALUATABLE_REQUEST } from './protocol';
import { fromPosition, fromRange, toCompletion, toDiagnostic, toFold, toRange, toSymbol } from './convert';

export { EVALUATABLE_REQUEST };

export const SERVER_NAME = 'mmutrace';

function bad(method: string, what: string): ResponseError<void> {
  return new ResponseError(ErrorCodes.InvalidParams, `${method}: ${what}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function checkPosition(method: string, where: string, p: unknown): Position {
  if (!isObject(p) || !isCount(p.line) || !isCount(p.character)) {
    throw bad(method, `${where} must be { line, character } with whole numbers >= 0`);
  }
  return { line: p.line, character: p.character };
}

function checkRange(method: string, where: string, r: unknown): Range {
  if (!isObject(r)) throw bad(method, `${where} must be { start, end }`);
  return { start: checkPosition(method, `${where}.start`, r.start), end: checkPosition(method, `${where}.end`, r.end) };
}

export function startServer(connection: Connection, version = '0'): void {
  const documents = new TextDocuments(TextDocument);
  const analyses = new Analyses((uri, v, a) => {
    void connection.sendDiagnostics({ uri, version: v, diagnostics: diagnostics(a).map(toDiagnostic) });
  });

  /** The open document a request names, or an InvalidParams error that says what is wrong. */
  const docOf = (method: string, params: unknown): TextDocument => {
    if (!isObject(params)) throw bad(method, 'params must be an object');
    const td = params.textDocument;
    if (!isObject(td) || typeof td.uri !== 'string') throw bad(method, 'params.textDocument.uri must be a string');
    const doc = documents.get(td.uri);
    if (!doc) throw bad(method, `${td.uri} is not open (send textDocument/didOpen first)`);
    return doc;
  };
  const at = (method: string, params: unknown): { doc: TextDocument; pos: Position } => {
    const doc = docOf(method, params);
    return { doc, pos: checkPosition(method, 'params.position', (params as Record<string, unknown>).position) };
  };
  const analysis = (doc: TextDocument): Promise<TraceAnalysis> => analyses.get(doc);

  connection.onInitialize(
    (): InitializeResult => ({
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        hoverProvider: true,
        completionProvider: { triggerCharacters: ['@', '.', ' '] },
        documentSymbolProvider: true,
        definitionProvider: true,
        referencesProvider: true,
        foldingRangeProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
      },
      serverInfo: { name: SERVER_NAME, version },
    }),
  );

  documents.onDidChangeContent((e) => void analyses.start(e.document).catch(() => {}));
  documents.onDidClose((e) => {
    analyses.forget(e.document.uri);
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });

  connection.onHover(async (params) => {
    const { doc, pos } = at('textDocument/hover', params);
    const h = hover(await analysis(doc), fromPosition(pos));
    return h ? { contents: { kind: 'markdown', value: h.markdown }, range: toRange(h.range) } : null;
  });

  connection.onCompletion(async (params) => {
    const { doc, pos } = at('textDocument/completion', params);
    return complete(await analysis(doc), fromPosition(pos)).map(toCompletion);
  });

  connection.onDocumentSymbol(async (params) => {
    const doc = docOf('textDocument/documentSymbol', params);
    return documentSymbols(await analysis(doc)).map(toSymbol);
  });

  connection.onDefinition(async (params) => {
    const { doc, pos } = at('textDocument/definition', params);
    const r = definition(await analysis(doc), fromPosition(pos));
    return r ? { uri: doc.uri, range: toRange(r) } : null;
  });

  connection.onReferences(async (params) => {
    const { doc, pos } = at('textDocument/references', params);
    const ctx: unknown = (params as { context?: unknown }).context;
    const includeDeclaration = isObject(ctx) && typeof ctx.includeDeclaration === 'boolean' ? ctx.includeDeclaration : true;
    return references(await analysis(doc), fromPosition(pos), includeDeclaration).map((r) => ({ uri: doc.uri, range: toRange(r) }));
  });

  connection.onFoldingRanges(async (params) => {
    const doc = docOf('textDocument/foldingRange', params);
    return foldingRanges(await analysis(doc)).map(toFold);
  });

  connection.onCodeAction(async (params) => {
    const method = 'textDocument/codeAction';
    const doc = docOf(method, params);
    const range = checkRange(method, 'params.range', (params as { range?: unknown }).range);
    const a = await analysis(doc);
    return quickFixes(diagnostics(a), fromRange(range)).map((f): CodeAction => ({
      title: f.title,
      kind: CodeActionKind.QuickFix,
      diagnostics: [toDiagnostic(f.diagnostic)],
      isPreferred: f.preferred,
      edit: { changes: { [doc.uri]: [{ range: toRange(f.edit.range), newText: f.edit.newText }] } },
    }));
  });

  connection.onRequest(EVALUATABLE_REQUEST, async (params: unknown) => {
    const { doc, pos } = at(EVALUATABLE_REQUEST, params);
    const e = evaluatableAt(await analysis(doc), fromPosition(pos));
    return e ? { range: toRange(e.range), expression: e.expression } : null;
  });

  documents.listen(connection);
  connection.listen();
}
