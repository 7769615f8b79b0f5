// `npm run package` builds a .vsix (offline, with @vscode/vsce) that holds
// what the extension runs on and nothing else: no test/, no sources, no
// node_modules (the bundles carry their dependencies).

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { beforeAll, describe, expect, test } from 'vitest';

const ROOT = resolve(__dirname, '../..');
const VSIX = resolve(ROOT, 'dist/mmutrace.vsix');

/** The entries of a zip file, from its central directory, with a reader for each. */
function zipEntries(buf: Buffer): Map<string, () => Buffer> {
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('not a zip file');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = new Map<string, () => Buffer>();
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central directory');
    const method = buf.readUInt16LE(p + 10);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    out.set(name, () => {
      const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
      const data = buf.subarray(start, start + size);
      return method === 0 ? Buffer.from(data) : inflateRawSync(data);
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

let entries: Map<string, () => Buffer>;

// `npm run package` is `node build.mjs && vsce package ...`. The build is left
// out here when the bundles exist (`npm test` has just built them, and other
// test files read them meanwhile); vsce runs with the script's own arguments.
const script: string = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')).scripts.package;

beforeAll(() => {
  const [build, vsce] = script.split(' && ');
  expect(build).toBe('node build.mjs');
  if (!existsSync(resolve(ROOT, 'dist/extension.js')) || !existsSync(resolve(ROOT, 'dist/web/extension.js'))) {
    execFileSync(process.execPath, ['build.mjs'], { cwd: ROOT, stdio: 'pipe' });
  }
  const [bin, ...args] = vsce!.split(' ');
  expect(bin).toBe('vsce');
  execFileSync(resolve(ROOT, 'node_modules/.bin/vsce'), args, { cwd: ROOT, stdio: 'pipe' });
  entries = zipEntries(readFileSync(VSIX));
}, 120_000);

describe('the .vsix', () => {
  test('is built offline, without node_modules, into dist/', () => {
    expect(script).toContain('--no-dependencies');
    expect(script).toContain('--out dist/mmutrace.vsix');
  });

  test('holds the manifest, both bundles, the adapter, the grammar, the snippets, the configuration, the README and the examples', () => {
    const names = [...entries.keys()];
    for (const f of [
      'extension/package.json',
      'extension/dist/extension.js',
      'extension/dist/web/extension.js',
      'extension/dist/adapter.js',
      'extension/dist/lsp.js',
      'extension/dist/client.js',
      'extension/dist/web/lsp.js',
      'extension/syntaxes/mmutrace.tmLanguage.json',
      'extension/language-configuration.json',
      'extension/snippets/mmutrace.code-snippets',
      'extension/readme.md',
      'extension/examples/demand-fault.mmutrace',
      'extension/icons/mmutrace.png',
    ]) {
      expect(names, f).toContain(f);
    }
  });

  test('holds nothing from test/, the sources, source maps or node_modules', () => {
    for (const n of entries.keys()) {
      expect(n).not.toMatch(/^extension\/(test|src|bench|bin|node_modules|\.vscode|\.ci)\//);
      expect(n).not.toMatch(/\.(ts|map|vsix)$/);
    }
    const allowed = /^(extension\.vsixmanifest|\[Content_Types\]\.xml|extension\/(package\.json|readme\.md|language-configuration\.json|dist\/(extension|adapter|lsp|client|cli|parse-worker|web\/extension|web\/lsp)\.js|syntaxes\/[\w.-]+\.json|snippets\/[\w.-]+\.code-snippets|examples\/[\w.-]+\.mmutrace|icons\/[\w.-]+\.png|docs\/[\w.-]+\.png|docs\/walkthrough\/[\w.-]+\.md))$/;
    for (const n of entries.keys()) expect(n, n).toMatch(allowed);
  });

  test('the images the README shows are inside (the details page links them relatively), and no other', () => {
    const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
    const shown = [...readme.matchAll(/!\[[^\]]*\]\((docs\/[\w.-]+\.png)\)/g)].map((m) => `extension/${m[1]}`);
    expect(shown.length).toBeGreaterThan(0);
    const shipped = [...entries.keys()].filter((n) => n.startsWith('extension/docs/') && n.endsWith('.png'));
    expect(shipped.sort()).toEqual([...new Set(shown)].sort());
  });

  test('every file that package.json points to is inside', () => {
    const pkg = JSON.parse(entries.get('extension/package.json')!().toString('utf8'));
    const paths = [
      pkg.main,
      pkg.browser,
      ...pkg.contributes.languages.map((l: { configuration: string }) => l.configuration),
      ...pkg.contributes.grammars.map((g: { path: string }) => g.path),
      ...pkg.contributes.snippets.map((s: { path: string }) => s.path),
      pkg.icon,
      // The walkthrough's pages, the CLI that the `mmutrace` tasks run and its parse worker
      // (src/cli/feed-worker.ts looks for dist/parse-worker.js beside dist/cli.js).
      ...pkg.contributes.walkthroughs.flatMap((w: { steps: { media: { markdown?: string } }[] }) => w.steps.map((st) => st.media.markdown).filter(Boolean)),
      'dist/cli.js',
      'dist/parse-worker.js',
    ];
    for (const p of paths) expect([...entries.keys()], p).toContain(`extension/${p.replace(/^\.\//, '')}`);
    expect(pkg.main).toBe('./dist/extension.js');
    expect(pkg.browser).toBe('./dist/web/extension.js');
  });

  test('the bundles run without node_modules: they require only vscode and Node built-ins', () => {
    const builtins = new Set(builtinModules);
    for (const f of ['extension/dist/extension.js', 'extension/dist/web/extension.js', 'extension/dist/adapter.js', 'extension/dist/lsp.js', 'extension/dist/client.js', 'extension/dist/cli.js', 'extension/dist/parse-worker.js', 'extension/dist/web/lsp.js']) {
      const code = entries.get(f)!().toString('utf8');
      const reqs = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]!);
      for (const r of reqs) expect(r === 'vscode' || builtins.has(r) || r.startsWith('node:'), `${f} requires ${r}`).toBe(true);
      if (f.includes('/web/')) expect(reqs.filter((r) => r !== 'vscode'), f).toEqual([]);
    }
  });

  test('the example that Open Example opens is the seed demand fault', () => {
    const shipped = entries.get('extension/examples/demand-fault.mmutrace')!().toString('utf8');
    expect(shipped).toBe(readFileSync(resolve(ROOT, 'examples/demand-fault.mmutrace'), 'utf8'));
  });
});
