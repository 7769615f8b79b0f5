#!/usr/bin/env node
// `npm run test:emacs`: mmutrace in a second real editor. Installs Emacs and
// its packages from Debian when missing (emacs-nox, elpa-eglot, elpa-dap-mode;
// apt-get as root, retried while another process holds the dpkg lock), then
// runs check.el in batch mode against the built dist/cli.js (`mmutrace lsp
// --stdio`) and dist/adapter.js. Emacs is killed after TIME_LIMIT_MS. Exit
// status: 0 when every check passed.

import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const TIME_LIMIT_MS = Number(process.env.MMUTRACE_EMACS_TIME_LIMIT_MS ?? 180_000);
const PACKAGES = ['emacs-nox', 'elpa-eglot', 'elpa-dap-mode'];
const ELPA = '/usr/share/emacs/site-lisp/elpa';

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function haveAll() {
  if (spawnSync('emacs', ['--version'], { stdio: 'ignore' }).status !== 0) return false;
  const have = existsSync(ELPA) ? readdirSync(ELPA) : [];
  return ['eglot-', 'dap-mode-', 'lsp-mode-'].every((p) => have.some((d) => d.startsWith(p)));
}

async function apt(args) {
  for (let attempt = 1; ; attempt++) {
    const r = spawnSync('apt-get', args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status === 0) return;
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    if (/Could not get lock|dpkg frontend lock|Unable to lock/.test(out) && attempt < 60) {
      console.log(`apt-get: the dpkg lock is held by another process; retrying in 10 s (${attempt})`);
      await sleep(10_000);
      continue;
    }
    throw new Error(`apt-get ${args.join(' ')} failed (${r.status ?? r.signal}):\n${out.slice(-2000)}`);
  }
}

async function install() {
  if (haveAll()) return;
  if (process.getuid?.() !== 0) throw new Error(`Emacs and its packages are missing and this is not root: apt-get install ${PACKAGES.join(' ')}`);
  console.log(`installing ${PACKAGES.join(' ')} from Debian`);
  try {
    await apt(['install', '-y', '--no-install-recommends', ...PACKAGES]);
  } catch {
    await apt(['update']);
    await apt(['install', '-y', '--no-install-recommends', ...PACKAGES]);
  }
  if (!haveAll()) throw new Error('Emacs or its packages are still missing after apt-get install');
}

async function main() {
  for (const f of ['dist/cli.js', 'dist/adapter.js']) if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run \`npm run build\``);
  await install();
  const dir = mkdtempSync(join(tmpdir(), 'mmutrace-emacs-'));
  try {
    const typo = join(dir, 'typo.mmutrace');
    writeFileSync(typo, 'space a\nraed 0x1000\n');
    const trace = join(dir, 'demand-fault.mmutrace');
    copyFileSync(join(ROOT, 'examples/demand-fault.mmutrace'), trace);
    const env = {
      ...process.env,
      HOME: dir, // no user init, no package archive of the user's
      MMUTRACE_CLI: process.env.MMUTRACE_CLI ?? join(ROOT, 'dist/cli.js'),
      MMUTRACE_ADAPTER: process.env.MMUTRACE_ADAPTER ?? join(ROOT, 'dist/adapter.js'),
      MMUTRACE_TYPO: typo,
      MMUTRACE_TRACE: trace,
    };
    const emacs = spawn('emacs', ['--batch', '-Q', '-l', join(HERE, 'check.el')], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    const take = (d) => {
      out += d;
      process.stdout.write(d);
    };
    emacs.stdout.on('data', take);
    emacs.stderr.on('data', take);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // Emacs and the server and adapter it started: the whole process group.
      try {
        process.kill(-emacs.pid, 'SIGKILL');
      } catch {
        emacs.kill('SIGKILL');
      }
    }, TIME_LIMIT_MS);
    const status = await new Promise((r) => emacs.on('exit', (code, signal) => r(code ?? signal)));
    clearTimeout(timer);
    try {
      process.kill(-emacs.pid, 'SIGKILL'); // whatever Emacs left behind
    } catch {
      /* none left */
    }
    if (timedOut) throw new Error(`Emacs did not finish within ${TIME_LIMIT_MS / 1000} s; killed`);
    const oks = out.match(/^ok: /gm)?.length ?? 0;
    if (status !== 0 || /^FAIL: /m.test(out) || !/^all checks passed$/m.test(out)) throw new Error(`Emacs exited with ${status}; see FAIL lines above`);
    console.log(`test:emacs: ${oks} checks passed`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`test:emacs: ${e.message}`);
  process.exitCode = 1;
});
