// The two bundles as VS Code loads them: dist/extension.js with Node's
// require, dist/web/extension.js in a context with no Node globals at all (as
// in the web worker of VS Code for the web), both against a stand-in `vscode`.
// The web one then runs a whole debug session through its inline adapter.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { builtinModules, createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import vm from 'node:vm';
import { beforeAll, describe, expect, test } from 'vitest';
import { makeContext, makeVscode } from './vscode-stub';

const ROOT = resolve(__dirname, '../..');
const DESKTOP = resolve(ROOT, 'dist/extension.js');
const WEB = resolve(ROOT, 'dist/web/extension.js');
const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8'));
const demand = readFileSync(resolve(ROOT, 'examples/demand-fault.mmutrace'), 'utf8');

interface Ext {
  activate(ctx: unknown): void;
  deactivate(): void;
}

beforeAll(() => {
  if (!existsSync(DESKTOP) || !existsSync(WEB)) execFileSync(process.execPath, ['build.mjs'], { cwd: ROOT });
});

const BUILTINS = new Set(builtinModules);

function loadDesktop(vscode: unknown): { ext: Ext; evalMs: number } {
  const code = readFileSync(DESKTOP, 'utf8');
  const req = createRequire(DESKTOP);
  const module = { exports: {} as Ext };
  const t0 = performance.now();
  new Function('module', 'exports', 'require', '__filename', '__dirname', code)(
    module,
    module.exports,
    (id: string) => {
      if (id === 'vscode') return vscode;
      if (!BUILTINS.has(id.replace(/^node:/, ''))) throw new Error(`the desktop bundle requires ${id}`);
      return req(id);
    },
    DESKTOP,
    resolve(ROOT, 'dist'),
  );
  return { ext: module.exports, evalMs: performance.now() - t0 };
}

function loadWeb(vscode: unknown): { ext: Ext; context: vm.Context } {
  const code = readFileSync(WEB, 'utf8');
  const module = { exports: {} as Ext };
  const required: string[] = [];
  const context = vm.createContext({
    module,
    require: (id: string) => {
      required.push(id);
      if (id === 'vscode') return vscode;
      throw new Error(`the web bundle requires ${id}`);
    },
    console,
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
    queueMicrotask,
    TextEncoder,
    TextDecoder,
    URL,
    URLSearchParams,
    performance,
    MessageChannel,
  });
  vm.runInContext(`(function (module, exports, require) {${code}\n})(module, module.exports, require);`, context, { filename: WEB });
  expect([...new Set(required)]).toEqual(['vscode']);
  return { ext: module.exports, context };
}

/** What the language client registers once the server has said what it provides (src/lsp/server.ts). */
const FROM_THE_SERVER = [
  'registerHoverProvider',
  'registerCompletionItemProvider',
  'registerDocumentSymbolProvider',
  'registerDefinitionProvider',
  'registerReferenceProvider',
  'registerFoldingRangeProvider',
  'registerCodeActionsProvider',
];

function checkRegistrations(rec: ReturnType<typeof makeVscode>['rec'], desktop: boolean): void {
  // The Testing view everywhere; the `mmutrace` tasks run the CLI in a process: the desktop only.
  expect(rec.testControllers).toEqual(['mmutrace']);
  expect(rec.taskProviders).toEqual(desktop ? [pkg.contributes.taskDefinitions[0].type] : []);
  expect(rec.commands.sort()).toEqual(pkg.contributes.commands.map((c: { command: string }) => c.command).sort());
  // Registered by the extension itself, at once; none of them parses a trace in the extension host.
  for (const r of ['registerCodeLensProvider', 'registerEvaluatableExpressionProvider', 'registerInlineValuesProvider']) {
    expect(rec.registrations).toContain(r);
  }
  for (const r of FROM_THE_SERVER) expect(rec.registrations).not.toContain(r);
  expect([...rec.debugConfigProviders.keys()]).toEqual(['mmutrace']);
  expect([...rec.adapterFactories.keys()]).toEqual(['mmutrace']);
}

describe('the desktop bundle', () => {
  test('requires only vscode and Node built-ins; activates and registers every feature', () => {
    const { api, rec } = makeVscode();
    const { ext, evalMs } = loadDesktop(api);
    const ctx = makeContext();
    const t0 = performance.now();
    ext.activate(ctx);
    const activateMs = performance.now() - t0;
    checkRegistrations(rec, true);
    expect(ctx.subscriptions.length).toBeGreaterThan(10);
    for (const s of ctx.subscriptions) s.dispose();
    console.log(`activation cost: bundle evaluation ${evalMs.toFixed(1)} ms, activate() ${activateMs.toFixed(1)} ms, ${readFileSync(DESKTOP).length} bytes`);
    expect(evalMs + activateMs).toBeLessThan(1000);
  });

  test('dist/client.js (loaded after activation) requires only vscode and Node built-ins and makes the language client', () => {
    const { api } = makeVscode();
    const file = resolve(ROOT, 'dist/client.js');
    const req = createRequire(file);
    const module = { exports: {} as { createNodeClient(uri: unknown): Record<string, unknown> } };
    new Function('module', 'exports', 'require', '__filename', '__dirname', readFileSync(file, 'utf8'))(
      module,
      module.exports,
      (id: string) => {
        if (id === 'vscode') return api;
        if (!BUILTINS.has(id)) throw new Error(`dist/client.js requires ${id}`);
        return req(id);
      },
      file,
      resolve(ROOT, 'dist'),
    );
    const client = module.exports.createNodeClient((api as { Uri: { file(p: string): unknown } }).Uri.file(ROOT));
    for (const m of ['start', 'stop', 'sendRequest']) expect(typeof client[m], m).toBe('function');
  });

  test('the adapter factory gives an inline adapter by default', () => {
    const { api, rec } = makeVscode();
    loadDesktop(api).ext.activate(makeContext());
    const desc = rec.adapterFactories.get('mmutrace')!.createDebugAdapterDescriptor({ workspaceFolder: undefined, configuration: {} });
    expect(rec.inlineAdapters).toHaveLength(1);
    expect(desc).toHaveProperty('adapter', rec.inlineAdapters[0]);
  });
});

/** Sends DAP requests to an inline adapter and waits for what it sends back. */
function driver(adapter: { handleMessage(m: unknown): void; onDidSendMessage(l: (m: Record<string, unknown>) => void): void }) {
  const got: Record<string, unknown>[] = [];
  adapter.onDidSendMessage((m) => got.push(JSON.parse(JSON.stringify(m))));
  let seq = 1;
  const waitFor = async (pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    for (let i = 0; i < 1000; i++) {
      const m = got.find(pred);
      if (m) return m;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`timed out; got ${JSON.stringify(got.map((m) => m.command ?? m.event))}`);
  };
  const request = async (command: string, args: unknown = {}): Promise<Record<string, unknown>> => {
    const s = seq++;
    adapter.handleMessage({ seq: s, type: 'request', command, arguments: args });
    return waitFor((m) => m.type === 'response' && m.request_seq === s);
  };
  return { got, request, waitFor };
}

describe('the desktop bundle in-process session', () => {
  // On the desktop a local trace is read from the disk in parts (src/debug/filesource.ts), not
  // through workspace.fs: the stub's workspace.fs has no file at all here, so a launch that
  // succeeds read the disk.
  test('reads a local file from the disk in parts, and says "no such file" for a missing one', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mmutrace-inproc-')), 'demand-fault.mmutrace');
    writeFileSync(file, demand);
    const { api, rec } = makeVscode({});
    loadDesktop(api).ext.activate(makeContext());
    rec.adapterFactories.get('mmutrace')!.createDebugAdapterDescriptor({ workspaceFolder: undefined, configuration: {} });
    const d = driver(rec.inlineAdapters[0] as never);
    expect((await d.request('initialize', { adapterID: 'mmutrace', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' })).success).toBe(true);
    const launch = await d.request('launch', { program: file, stopOnEntry: true });
    expect(launch.success, JSON.stringify(launch)).toBe(true);
    await d.request('configurationDone');
    const stop = await d.waitFor((m) => m.type === 'event' && m.event === 'stopped');
    const threadId = (stop.body as { threadId: number }).threadId;
    const frames = (await d.request('stackTrace', { threadId })).body as { stackFrames: { line: number; source?: { path?: string } }[] };
    // The example's first event is on line 13 (its setup and comments come before).
    expect(frames.stackFrames.at(-1)!.line).toBe(13);
    expect(frames.stackFrames.at(-1)!.source?.path).toBe(file);
    await d.request('disconnect', {});

    rec.adapterFactories.get('mmutrace')!.createDebugAdapterDescriptor({ workspaceFolder: undefined, configuration: {} });
    const e = driver(rec.inlineAdapters[1] as never);
    await e.request('initialize', { adapterID: 'mmutrace' });
    const missing = await e.request('launch', { program: join(tmpdir(), 'mmutrace-no-such-dir', 'nowhere.mmutrace') });
    expect(missing.success).toBe(false);
    expect(JSON.stringify(missing)).toContain('no such file');
  });
});

describe('the web bundle', () => {
  test('needs no Node global and no module but vscode', () => {
    const { api, rec } = makeVscode();
    const { ext, context } = loadWeb(api);
    for (const g of ['process', 'Buffer', 'setImmediate', 'global']) expect(vm.runInContext(`typeof ${g}`, context), g).not.toBe('function');
    ext.activate(makeContext());
    checkRegistrations(rec, false);
  });

  test('F5 with no launch.json resolves to the active trace', () => {
    const { api, rec } = makeVscode();
    (api as { window: unknown }).window = {
      createOutputChannel: () => ({ appendLine() {}, show() {}, dispose() {} }),
      onDidChangeActiveTextEditor: () => ({ dispose() {} }),
      activeTextEditor: { document: { uri: { scheme: 'file', fsPath: '/w/demand-fault.mmutrace', path: '/w/demand-fault.mmutrace' }, languageId: 'mmutrace' } },
    };
    loadWeb(api).ext.activate(makeContext());
    const p = rec.debugConfigProviders.get('mmutrace')!;
    expect(p.resolveDebugConfiguration!(undefined, {})).toEqual({
      type: 'mmutrace',
      request: 'launch',
      name: 'Debug demand-fault.mmutrace',
      program: '/w/demand-fault.mmutrace',
      stopOnEntry: true,
    });
    expect(p.provideDebugConfigurations!()).toEqual([pkg.contributes.debuggers[0].initialConfigurations[0]]);
  });

  test('runs a debug session in-process, reading the trace through workspace.fs', async () => {
    const { api, rec } = makeVscode({ '/w/demand-fault.mmutrace': demand });
    loadWeb(api).ext.activate(makeContext());
    rec.adapterFactories.get('mmutrace')!.createDebugAdapterDescriptor({ workspaceFolder: undefined, configuration: {} });
    const adapter = rec.inlineAdapters[0] as {
      handleMessage(m: unknown): void;
      onDidSendMessage(l: (m: Record<string, unknown>) => void): void;
    };
    const got: Record<string, unknown>[] = [];
    adapter.onDidSendMessage((m) => got.push(JSON.parse(JSON.stringify(m))));
    let seq = 1;
    const request = async (command: string, args: unknown = {}): Promise<Record<string, unknown>> => {
      const s = seq++;
      adapter.handleMessage({ seq: s, type: 'request', command, arguments: args });
      return waitFor((m) => m.type === 'response' && m.request_seq === s);
    };
    const waitFor = async (pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
      for (let i = 0; i < 500; i++) {
        const m = got.find(pred);
        if (m) return m;
        await new Promise((r) => setTimeout(r, 5));
      }
      throw new Error(`timed out; got ${JSON.stringify(got.map((m) => m.command ?? m.event))}`);
    };
    const event = (name: string, after = 0) => waitFor((m) => m.type === 'event' && m.event === name && got.indexOf(m) >= after);

    expect((await request('initialize', { adapterID: 'mmutrace', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' })).success).toBe(true);
    const launch = await request('launch', { program: '/w/demand-fault.mmutrace', stopOnEntry: true });
    expect(launch.success, JSON.stringify(launch)).toBe(true);
    await event('initialized');
    await request('configurationDone');
    const stop = await event('stopped');
    const threadId = (stop.body as { threadId: number }).threadId;
    const frames = async () => ((await request('stackTrace', { threadId })).body as { stackFrames: { line: number; source?: { path?: string } }[] }).stackFrames;
    const top = (await frames()).at(-1)!;
    expect(top.line).toBe(13);
    expect(top.source?.path).toBe('/w/demand-fault.mmutrace');
    const n = got.length;
    await request('next', { threadId });
    await event('stopped', n);
    expect((await frames()).at(-1)!.line).toBeGreaterThan(13);
    const m = got.length;
    await request('continue', { threadId });
    // The session stops at the end of the trace (so that one can step back from there).
    const end = await event('stopped', m);
    expect(end.body).toMatchObject({ reason: 'end' });
    const out = got.slice(m).filter((x) => x.event === 'output').map((x) => (x.body as { output: string }).output);
    expect(out.join('')).toContain('#PF 0x4');
    await request('disconnect', {});
  });

  test('a missing file makes launch fail with a message, not a crash', async () => {
    const { api, rec } = makeVscode({});
    loadWeb(api).ext.activate(makeContext());
    rec.adapterFactories.get('mmutrace')!.createDebugAdapterDescriptor({ workspaceFolder: undefined, configuration: {} });
    const adapter = rec.inlineAdapters[0] as { handleMessage(m: unknown): void; onDidSendMessage(l: (m: Record<string, unknown>) => void): void };
    const got: Record<string, unknown>[] = [];
    adapter.onDidSendMessage((m) => got.push(m));
    adapter.handleMessage({ seq: 1, type: 'request', command: 'initialize', arguments: { adapterID: 'mmutrace' } });
    adapter.handleMessage({ seq: 2, type: 'request', command: 'launch', arguments: { program: '/nowhere.mmutrace' } });
    for (let i = 0; i < 200 && !got.some((x) => x.request_seq === 2); i++) await new Promise((r) => setTimeout(r, 5));
    const r = got.find((x) => x.request_seq === 2)!;
    expect(r.success).toBe(false);
    expect(JSON.stringify(r)).toContain('no such file');
  });
});
