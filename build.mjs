// Bundles every entry point into dist/ with esbuild. Run by `npm run build`
// and by npm's `prepare` step, so `npm install` leaves a working `npx mmutrace`.
import { build } from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';

const node = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning' };
const entries = [
  { in: 'src/cli/main.ts', out: 'dist/cli.js' },
  // The command's parse worker (src/cli/feed-worker.ts finds it beside dist/cli.js).
  { in: 'src/cli/parse-worker.ts', out: 'dist/parse-worker.js' },
  { in: 'src/debug/adapter.ts', out: 'dist/adapter.js' },
  { in: 'src/lsp/main.ts', out: 'dist/lsp.js' },
  { in: 'bench/lsp.ts', out: 'dist/bench-lsp.js' },
  { in: 'bench/bench.ts', out: 'dist/bench.js' },
  { in: 'bench/debug-bench.ts', out: 'dist/debug-bench.js' },
  { in: 'bench/stream.ts', out: 'dist/bench-stream.js' },
  { in: 'bench/large-shadow.ts', out: 'dist/large-shadow.js' },
  { in: 'bench/mem.ts', out: 'dist/bench-mem.js' },
  { in: 'fuzz/fuzz.ts', out: 'dist/fuzz.js' },
  { in: 'bench/record.ts', out: 'dist/bench-record.js' },
  { in: 'bench/activation.ts', out: 'dist/bench-activation.js' },
];
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const define = { MMUTRACE_VERSION: JSON.stringify(pkg.version) };
await Promise.all(
  entries.filter((e) => existsSync(e.in)).map((e) => build({ ...node, define, entryPoints: [e.in], outfile: e.out })),
);

// The VS Code extension (src/extension): a CommonJS bundle for the desktop
// (`main`) and one for the web build of VS Code (`browser`), `vscode` left to
// the host. Both carry the parser, the engine and the debug session (the
// adapter runs in-process), so the .vsix needs no node_modules.
const extension = {
  bundle: true,
  format: 'cjs',
  external: ['vscode'],
  sourcemap: true,
  minify: true,
  keepNames: true,
  logLevel: 'warning',
};
// In the browser, the two Node modules that @vscode/debugadapter requires
// (`events` for its EventEmitter, `url` for path/URI conversion) come from
// small shims, and so do the Node globals the session uses (`process`,
// `setImmediate`, `Buffer`); the stdio runner and file logger of
// @vscode/debugadapter have browser stubs of their own.
const shims = 'src/extension/web/shims';
// The shared bounded file reader (src/io/read.ts) is Node only: the web build
// gets a stub in its place (the extension reads through vscode.workspace.fs).
const noNodeReader = {
  name: 'no-node-reader',
  setup(b) {
    b.onResolve({ filter: /[\\/]io[\\/]read$/ }, () => ({ path: 'io-read', namespace: 'web-stub' }));
    // The debugger's file source (src/debug/filesource.ts) reads through it too.
    b.onResolve({ filter: /[\\/]debug[\\/]filesource$|^\.[\\/]filesource$/ }, () => ({ path: 'filesource', namespace: 'web-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'web-stub' }, (a) => ({
      contents:
        a.path === 'filesource'
          ? 'export async function openFileSource() { throw new Error("no file system in the web build"); }\n'
          : 'export async function readTrace() { throw new Error("no file system in the web build"); }\nexport function badUtf8Message() { return ""; }\n',
      loader: 'js',
    }));
  },
};
if (existsSync('src/extension/extension.ts')) {
  await Promise.all([
    build({ ...extension, platform: 'node', target: 'node20', entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js' }),
    // The desktop language client, loaded by dist/extension.js after activation.
    build({ ...extension, platform: 'node', target: 'node20', entryPoints: ['src/extension/client-node.ts'], outfile: 'dist/client.js' }),
    build({
      ...extension,
      platform: 'browser',
      target: 'es2022',
      entryPoints: ['src/extension/web.ts'],
      outfile: 'dist/web/extension.js',
      // The session's Node file reader (a dynamic import, never called here: the
      // extension gives it a reader over vscode.workspace.fs) stays out.
      external: ['vscode', 'node:*'],
      alias: { events: `./${shims}/events.ts`, url: `./${shims}/url.ts` },
      inject: [`./${shims}/globals.ts`],
      define: { global: 'globalThis' },
      plugins: [noNodeReader],
    }),
    // The language server in a web worker (src/lsp/browser.ts), with the same shims.
    build({
      ...extension,
      external: [],
      platform: 'browser',
      target: 'es2022',
      format: 'iife',
      entryPoints: ['src/lsp/browser.ts'],
      outfile: 'dist/web/lsp.js',
      alias: { events: `./${shims}/events.ts`, url: `./${shims}/url.ts` },
      inject: [`./${shims}/globals.ts`],
      define: { global: 'globalThis', MMUTRACE_VERSION: JSON.stringify(pkg.version) },
    }),
  ]);
}
