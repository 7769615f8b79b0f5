// A stand-in for the `vscode` module: enough of the API for the bundles to
// load and activate outside VS Code, recording what they register. Anything
// not modelled here is a callable, constructible, endlessly deep stub.

export interface Recorded {
  commands: string[];
  registrations: string[];
  debugConfigProviders: Map<string, { provideDebugConfigurations?: () => unknown; resolveDebugConfiguration?: (f: unknown, c: unknown) => unknown }>;
  adapterFactories: Map<string, { createDebugAdapterDescriptor: (session: unknown) => unknown }>;
  /** The adapters handed to DebugAdapterInlineImplementation. */
  inlineAdapters: unknown[];
  /** The ids of the test controllers made (vscode.tests) and the task types provided (vscode.tasks). */
  testControllers: string[];
  taskProviders: string[];
}

function deepStub(path: string): unknown {
  const cache = new Map<PropertyKey, unknown>();
  const fn = function () {};
  return new Proxy(fn, {
    get(_t, p) {
      if (p === 'then') return undefined;
      if (p === Symbol.iterator) return function* () {};
      if (p === Symbol.toPrimitive) return () => path;
      if (!cache.has(p)) cache.set(p, deepStub(`${path}.${String(p)}`));
      return cache.get(p);
    },
    apply: () => deepStub(`${path}()`),
    construct: () => deepStub(`new ${path}`) as object,
  });
}

class FakeUri {
  constructor(
    readonly scheme: string,
    readonly path: string,
    readonly authority = '',
  ) {}
  get fsPath(): string {
    return this.path;
  }
  toString(): string {
    return `${this.scheme}://${this.authority}${this.path}`;
  }
  with(c: { scheme?: string; path?: string }): FakeUri {
    return new FakeUri(c.scheme ?? this.scheme, c.path ?? this.path, this.authority);
  }
  static file(p: string): FakeUri {
    return new FakeUri('file', p);
  }
  static parse(s: string): FakeUri {
    const m = /^([^:]+):\/\/([^/]*)(.*)$/.exec(s);
    return m ? new FakeUri(m[1]!, m[3]!, m[2]!) : new FakeUri('file', s);
  }
  static joinPath(base: FakeUri, ...parts: string[]): FakeUri {
    return base.with({ path: [base.path, ...parts].join('/') });
  }
}

const API_NAMES = [
  'CodeAction', 'CodeActionKind', 'CodeLens', 'CompletionItem', 'CompletionItemKind', 'DebugAdapterExecutable',
  'DebugAdapterInlineImplementation', 'Diagnostic', 'DiagnosticSeverity', 'DocumentSymbol', 'EvaluatableExpression',
  'EventEmitter', 'FileSystemError', 'FoldingRange', 'FoldingRangeKind', 'Hover', 'InlineValueText', 'Location',
  'MarkdownString', 'Position', 'Range', 'SymbolKind', 'Uri', 'ViewColumn', 'WorkspaceEdit', 'commands', 'debug',
  'languages', 'window', 'workspace',
  // The Testing view and the tasks.
  'TestMessage', 'TestRunProfileKind', 'SourceBreakpoint', 'ProcessExecution', 'Task', 'TaskGroup', 'TaskScope', 'TaskRevealKind', 'RelativePattern',
  // What vscode-languageclient extends or reads when its module loads.
  'CallHierarchyItem', 'CancellationError', 'Disposable', 'DocumentLink', 'InlayHint', 'SymbolInformation', 'TypeHierarchyItem',
  'CompletionItemTag', 'DiagnosticTag', 'SymbolTag', 'FileType', 'LogLevel', 'ProgressLocation', 'SnippetString', 'TextEdit',
];

export function makeVscode(files: Record<string, string> = {}): { api: unknown; rec: Recorded } {
  const rec: Recorded = { commands: [], registrations: [], debugConfigProviders: new Map(), adapterFactories: new Map(), inlineAdapters: [], testControllers: [], taskProviders: [] };
  const disposable = { dispose() {} };
  const registering = (name: string) => () => {
    rec.registrations.push(name);
    return disposable;
  };
  class FileSystemError extends Error {
    code = 'FileNotFound';
  }
  const languages = new Proxy(
    {},
    {
      get: (_t, p: string) => (p.startsWith('register') ? registering(p) : p === 'createDiagnosticCollection' ? () => ({ set() {}, delete() {}, dispose() {} }) : deepStub(`languages.${p}`)),
    },
  );
  const base: Record<string, unknown> = {
    // vscode-languageclient checks it against the version it needs.
    version: '1.95.0',
    Uri: FakeUri,
    FileSystemError,
    languages,
    commands: {
      registerCommand: (id: string) => {
        rec.commands.push(id);
        return disposable;
      },
    },
    debug: new Proxy(
      {
        registerDebugConfigurationProvider: (type: string, p: never) => {
          rec.debugConfigProviders.set(type, p);
          return disposable;
        },
        registerDebugAdapterDescriptorFactory: (type: string, f: never) => {
          rec.adapterFactories.set(type, f);
          return disposable;
        },
      } as Record<string, unknown>,
      { get: (t, p: string) => t[p] ?? (() => disposable) },
    ),
    workspace: new Proxy(
      {
        textDocuments: [],
        getConfiguration: () => ({ get: () => undefined }),
        fs: {
          stat: async (uri: FakeUri) => {
            const text = files[uri.path];
            if (text === undefined) throw new FileSystemError(`no file ${uri.path}`);
            return { type: 1, size: new TextEncoder().encode(text).length, ctime: 0, mtime: 0 };
          },
          readFile: async (uri: FakeUri) => {
            const text = files[uri.path];
            if (text === undefined) throw new FileSystemError(`no file ${uri.path}`);
            return new TextEncoder().encode(text);
          },
        },
      } as Record<string, unknown>,
      { get: (t, p: string) => t[p] ?? (() => disposable) },
    ),
    tests: {
      createTestController: (id: string) => {
        rec.testControllers.push(id);
        return deepStub(`tests.controller(${id})`);
      },
    },
    tasks: {
      registerTaskProvider: (type: string) => {
        rec.taskProviders.push(type);
        return disposable;
      },
    },
    FileType: { Unknown: 0, File: 1, Directory: 2, SymbolicLink: 64 },
    // The language client reports a server that cannot start with a message (thenable).
    window: new Proxy(
      {
        showErrorMessage: async () => undefined,
        showWarningMessage: async () => undefined,
        showInformationMessage: async () => undefined,
      } as Record<string, unknown>,
      { get: (t, p: string) => t[p] ?? (deepStub(`window.${p}`) as unknown) },
    ),
    DebugAdapterInlineImplementation: class {
      constructor(readonly adapter: unknown) {
        rec.inlineAdapters.push(adapter);
      }
    },
  };
  // The bundles copy the module's own properties (esbuild's ESM interop): name
  // every API they use, the ones not modelled above as deep stubs.
  for (const name of API_NAMES) if (!(name in base)) base[name] = deepStub(`vscode.${name}`);
  return { api: base, rec };
}

/** An ExtensionContext with real subscriptions. */
export function makeContext(): { subscriptions: { dispose(): unknown }[]; extensionUri: FakeUri } {
  return { subscriptions: [], extensionUri: FakeUri.file('/ext') };
}
