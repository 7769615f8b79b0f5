#!/usr/bin/env node
// End-to-end tests of the mmutrace extension in a real VS Code (code-server
// in headless Chromium). `npm run test:e2e` runs this; see test/e2e/README.md.
//
//   node test/e2e/run.mjs [--only 1,3] [--skip-ext] [--skip-ui] [--docs] [--keep-runs N] [--serve]
//
// 1. installs code-server, its Node and playwright-core once into a cache
//    outside the checkout (lib/setup.mjs), and chromium if it is missing;
// 2. packages the extension (.vsix) and installs it into a fresh extensions
//    folder of this run;
// 3. starts code-server (127.0.0.1, no auth) on a copy of examples/ with a
//    fresh user-data folder, and plays the scenarios in scenarios/ like a
//    person, each asserting DOM text and saving a screenshot;
// 4. starts another code-server with the smoke-test driver and runs the
//    mocha-style suite exthost/suite.js inside its extension host;
// 5. stops every process it started (their process groups), also on failure
//    or Ctrl-C, checks that none is left, and prints a summary.
//
// Output of a run: .e2e/run-<time>/ in the checkout (ignored by git):
// shots/*.png, code-server logs, browser console, ext-results.json.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, copyFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { ensureTools, CHROMIUM, VERSIONS } from './lib/setup.mjs';
import { CodeServer } from './lib/server.mjs';
import { log, run, stopAll } from './lib/util.mjs';
import { leftovers } from './lib/procs.mjs';
import { Workbench } from './lib/workbench.mjs';
import { SCENARIOS } from './scenarios/index.mjs';
import { runExtensionHostSuite } from './lib/exthost.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');

// ---------------------------------------------------------------------------
// Options.

const argv = process.argv.slice(2);
const opt = (name) => argv.includes(name);
const val = (name, d) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : d;
};
const only = val('--only', process.env.MMUTRACE_E2E_ONLY || '')
  .split(',')
  .filter(Boolean)
  .map(Number);
const skipExt = opt('--skip-ext');
const skipUi = opt('--skip-ui');
const updateDocs = opt('--docs') || process.env.MMUTRACE_E2E_DOCS === '1';
const keepRuns = Number(val('--keep-runs', '3'));
const serve = opt('--serve');

// ---------------------------------------------------------------------------
// Clean-up on every way out.

let cleaning = null;
let currentRunDir = null;
async function cleanup() {
  cleaning ??= (async () => {
    await stopAll();
    if (currentRunDir) {
      const left = leftovers(currentRunDir);
      if (left.length) log(`WARNING: processes left after the run, killed: ${left.join('; ')}`);
    }
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    log(`${sig}: stopping everything this run started`);
    await cleanup();
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------

function newRunDir() {
  const root = join(repo, '.e2e');
  mkdirSync(root, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace('Z', '');
  const dir = join(root, `run-${stamp}`);
  mkdirSync(dir, { recursive: true });
  // Keep the last few runs (screenshots to look at), drop older ones.
  const runs = readdirSync(root)
    .filter((d) => d.startsWith('run-'))
    .sort();
  for (const old of runs.slice(0, Math.max(0, runs.length - keepRuns))) rmSync(join(root, old), { recursive: true, force: true });
  const latest = join(root, 'latest');
  rmSync(latest, { force: true });
  try {
    symlinkSync(dir, latest);
  } catch {
    // not important
  }
  return dir;
}

/**
 * A workspace for a server: a copy of examples/ (edits stay out of the
 * checkout) and a plain-text file. Called again, it restores the files.
 */
function makeWorkspace(runDir, name) {
  const ws = join(runDir, name);
  mkdirSync(ws, { recursive: true });
  for (const f of readdirSync(join(repo, 'examples'))) if (f.endsWith('.mmutrace')) copyFileSync(join(repo, 'examples', f), join(ws, f));
  writeFileSync(
    join(ws, 'notes.txt'),
    'Plain text, for comparison: read 0x400000 @fault\npte 0x400000 = 0x200000 P W U A D\nexpect last.exits == 1\n',
  );
  return ws;
}

/** The .vsix: `npm run package` when the project has that script, else vsce directly. */
async function packageExtension(runDir) {
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
  const out = join(runDir, `${pkg.name}-${pkg.version}.vsix`);
  const t = Date.now();
  if (pkg.scripts?.package) {
    const before = new Set(listVsix());
    await run('npm', ['run', '--silent', 'package'], { cwd: repo, prefix: '  | package: ' });
    // The newest .vsix the script wrote (dist/ or the root).
    const made = listVsix()
      .filter((f) => statSync(f).mtimeMs >= t - 1000 || !before.has(f))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
    if (!made) throw new Error('`npm run package` made no .vsix (looked in dist/ and the project folder)');
    copyFileSync(made, out);
    log(`packaged ${made} -> ${out}`);
  } else {
    log('package.json has no `package` script yet: building and packaging with vsce');
    await run('npm', ['run', '--silent', 'build'], { cwd: repo });
    const vsce = join(repo, 'node_modules', '.bin', 'vsce');
    if (!existsSync(vsce)) throw new Error('no `package` script and no @vscode/vsce in node_modules: cannot make a .vsix');
    await run(vsce, ['package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--out', out], { cwd: repo, prefix: '  | vsce: ' });
  }
  return out;
}
function listVsix() {
  const dirs = [repo, join(repo, 'dist')];
  return dirs.flatMap((d) => (existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.vsix')).map((f) => join(d, f)) : []));
}

/** Screenshots for the README, copied into docs/ with --docs when their scenario passed. */
const DOCS = [
  ['03-debug-walks', 'debug-session.png'],
  ['04-vmexit-step-in', 'debug-step-in.png'],
  ['05-data-breakpoint', 'data-breakpoint.png'],
  ['06-debug-console', 'debug-console.png'],
  ['02-hover-pte', 'hover-pte.png'],
  ['01-diagnostic', 'diagnostic.png'],
  ['01-highlighting', 'highlighting.png'],
  ['07-compare-policies', 'compare-policies.png'],
  ['08-mmu-map-update', 'mmu-map-update.png'],
  ['08-mmu-map-zap-refault', 'mmu-map-zap.png'],
  ['10-testing-failure', 'testing-view.png'],
];

// ---------------------------------------------------------------------------

async function main() {
  const t0 = Date.now();
  log(`mmutrace end-to-end: code-server ${VERSIONS.codeServer}, node ${VERSIONS.node}, playwright-core ${VERSIONS.playwrightCore}, ${CHROMIUM}`);
  const tools = await ensureTools();
  const tInstalled = Date.now();
  const runDir = newRunDir();
  currentRunDir = runDir;
  const shots = join(runDir, 'shots');
  mkdirSync(shots, { recursive: true });
  log(`run folder: ${runDir}`);

  const vsix = await packageExtension(runDir);
  // One workspace per server: what a scenario does to its files never reaches the suite.
  const workspace = makeWorkspace(runDir, 'workspace');
  const suiteWorkspace = makeWorkspace(runDir, 'workspace-exthost');
  const extensions = join(runDir, 'extensions');
  const require = createRequire(import.meta.url);
  const { chromium } = require(tools.playwrightCore);

  const results = [];
  let extResult = null;

  // --- UI scenarios ------------------------------------------------------------------
  if (!skipUi) {
    const server = new CodeServer(tools, runDir, { name: 'ui', extensions });
    await server.installExtension(vsix);
    if (serve) {
      const url = await server.start(workspace);
      log(`serving ${url}/?folder=${workspace} ; Ctrl-C to stop`);
      await new Promise(() => {});
    }
    let wb = null;
    try {
      const url = await server.start(workspace);
      wb = await Workbench.open(chromium, {
        url: `${url}/?folder=${encodeURIComponent(workspace)}`,
        runDir,
        shots,
        workspace,
        restoreWorkspace: () => makeWorkspace(runDir, 'workspace'),
      });
      for (const sc of SCENARIOS) {
        if (only.length && !only.includes(sc.id)) continue;
        results.push(await wb.play(sc));
      }
      strayNotifications(wb, results);
    } catch (e) {
      log(`UI run aborted: ${e.stack || e.message}`);
      results.push({ id: 0, title: 'UI run', status: 'fail', checks: [], error: e.message });
      if (wb) await wb.shot('99-aborted').catch(() => {});
    } finally {
      if (wb) await wb.close();
      await server.stop();
    }
  }

  // --- extension-host suite ----------------------------------------------------------
  if (!skipExt) {
    const resultsFile = join(runDir, 'ext-results.json');
    const server = new CodeServer(tools, runDir, { name: 'exthost', extensions, env: { MMUTRACE_E2E_EXT_RESULTS: resultsFile } });
    if (skipUi) await server.installExtension(vsix);
    try {
      const url = await server.start(suiteWorkspace, ['--vscode-option', 'enable-smoke-test-driver']);
      extResult = await runExtensionHostSuite(chromium, {
        url,
        runDir,
        shots,
        workspace: suiteWorkspace,
        extensionPath: installedExtensionPath(extensions),
        suite: join(here, 'exthost', 'suite.js'),
        resultsFile,
      });
    } catch (e) {
      log(`extension-host suite aborted: ${e.stack || e.message}`);
      extResult = { ok: false, error: e.message, results: [] };
    } finally {
      await server.stop();
    }
  }

  await cleanup();
  // The browser profiles are throw-away (and the largest part of a run folder).
  for (const d of ['chrome-ui', 'chrome-exthost']) rmSync(join(runDir, d), { recursive: true, force: true });

  // --- summary --------------------------------------------------------------------
  const line = '-'.repeat(72);
  console.log(`\n${line}\nmmutrace e2e summary (${((Date.now() - t0) / 1000).toFixed(0)} s in all; install ${((tInstalled - t0) / 1000).toFixed(0)} s${tools.installed ? ', cold' : ', warm'})`);
  for (const r of results) {
    const mark = r.status === 'pass' ? 'PASS' : r.status === 'missing' ? 'MISSING' : 'FAIL';
    console.log(`  ${mark.padEnd(7)} scenario ${r.id}: ${r.title} (${(r.ms / 1000 || 0).toFixed(1)} s)`);
    for (const c of r.checks.filter((c) => !c.ok)) console.log(`           ✗ ${c.what}${c.seen ? `\n             seen: ${c.seen}` : ''}`);
    if (r.error) console.log(`           error: ${r.error}`);
    if (r.missing?.length) for (const m of r.missing) console.log(`           missing feature: ${m}`);
  }
  if (extResult) {
    const failed = extResult.results.filter((t) => !t.ok);
    console.log(`  ${extResult.ok ? 'PASS' : 'FAIL'.padEnd(7)}    extension-host suite: ${extResult.results.length - failed.length} of ${extResult.results.length} tests passed${extResult.error ? ` (${extResult.error})` : ''}`);
    for (const t of failed) console.log(`           ✗ ${t.title}\n             ${String(t.error).split('\n')[0]}`);
  }
  console.log(`  screenshots: ${shots}\n  logs: ${runDir}`);
  const uiOk = results.every((r) => r.status === 'pass');
  const extOk = !extResult || extResult.ok;
  const passed = results.filter((r) => r.status === 'pass').length + (extResult ? extResult.results.filter((t) => t.ok).length : 0);
  const failed = results.filter((r) => r.status !== 'pass').length + (extResult ? Math.max(extResult.results.filter((t) => !t.ok).length, extResult.ok ? 0 : 1) : 0);

  if (updateDocs) {
    const docs = join(repo, 'docs');
    mkdirSync(docs, { recursive: true });
    for (const [shot, name] of DOCS) {
      const src = join(shots, `${shot}.png`);
      const sc = results.find((r) => r.shots?.includes(shot));
      // A scenario that only misses a feature elsewhere still took a true picture of what it saw.
      if (existsSync(src) && (sc?.status === 'pass' || sc?.status === 'missing')) {
        copyFileSync(src, join(docs, name));
        log(`docs/${name} <- ${shot}.png`);
      } else log(`docs/${name} not updated (${existsSync(src) ? 'its scenario failed' : 'no screenshot'})`);
    }
  }
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  console.log(line);
  return uiOk && extOk ? 0 : 1;
}

/** Error notifications that appeared outside every scenario (at load, between two, after the last) fail the run too. */
function strayNotifications(wb, results) {
  const stray = wb.errorNotifications.filter((n) => n.scenario === null).map((n) => n.text);
  if (!stray.length) return;
  const check = { ok: false, what: 'no error notification appeared outside the scenarios', seen: stray.join(' | ') };
  results.push({ id: 0, title: 'error notifications outside the scenarios', status: 'fail', checks: [check], ms: 0 });
}

function installedExtensionPath(extensions) {
  const dirs = readdirSync(extensions).filter((d) => d.startsWith('mmutrace.mmutrace-') && statSync(join(extensions, d)).isDirectory());
  if (!dirs.length) throw new Error(`the .vsix did not install into ${extensions}`);
  return join(extensions, dirs.sort().at(-1));
}

main().then(
  async (code) => {
    await cleanup();
    process.exit(code);
  },
  async (e) => {
    log(`e2e failed: ${e.stack || e.message}`);
    await cleanup();
    process.exit(1);
  },
);
