// code-server: a fresh user-data and extensions folder per run, the .vsix
// installed into it, served on 127.0.0.1 only, no auth, no telemetry, no
// update check. The server runs in a process group of its own, which `stop`
// ends whole (the server forks an extension host, a file watcher, a pty host).

import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { innerEnv } from './env.mjs';
import { log, run, stopGroup, track, waitUntil } from './util.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/** A free TCP port on the loopback interface. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export class CodeServer {
  /**
   * @param tools what setup.mjs installed
   * @param runDir this run's folder (user data, logs)
   * @param opts.name names this server's folders (user-data-NAME, ...)
   * @param opts.extensions the extensions folder (shared by the run's servers)
   * @param opts.env extra environment for the server (and so its extension host)
   */
  constructor(tools, runDir, { name = 'ui', extensions, env = {} } = {}) {
    this.tools = tools;
    this.runDir = runDir;
    this.name = name;
    this.userData = join(runDir, `user-data-${name}`);
    this.extensions = extensions ?? join(runDir, 'extensions');
    this.xdg = join(runDir, `xdg-${name}`);
    this.extraEnv = env;
    this.child = null;
    this.port = 0;
    this.logFile = null;
    mkdirSync(join(this.userData, 'User'), { recursive: true });
    mkdirSync(this.extensions, { recursive: true });
    for (const d of ['config', 'data', 'cache']) mkdirSync(join(this.xdg, d), { recursive: true });
    // User settings that keep the UI quiet and the screenshots readable.
    copyFileSync(join(here, '..', 'settings.json'), join(this.userData, 'User', 'settings.json'));
  }

  get env() {
    // Nothing from an outer `npm run` (env.mjs); code-server's Node 24 first on PATH.
    return {
      ...innerEnv({ nodeBin: this.tools.nodeBin }),
      ...this.extraEnv,
      // code-server writes under ~/.config and ~/.local/share even with --user-data-dir.
      XDG_CONFIG_HOME: join(this.xdg, 'config'),
      XDG_DATA_HOME: join(this.xdg, 'data'),
      XDG_CACHE_HOME: join(this.xdg, 'cache'),
      // Never the checkout's Node options (a debugger hook, a loader) in the server.
      NODE_OPTIONS: '',
      // No extension gallery: its look-ups go to a closed port on the loopback, never out.
      EXTENSIONS_GALLERY: JSON.stringify({ serviceUrl: 'http://127.0.0.1:9/gallery', itemUrl: 'http://127.0.0.1:9/items', resourceUrlTemplate: 'http://127.0.0.1:9/{publisher}/{name}/{version}/{path}' }),
    };
  }

  configFile(port) {
    const file = join(this.runDir, `code-server-${this.name}.yaml`);
    writeFileSync(
      file,
      [`bind-addr: 127.0.0.1:${port}`, 'auth: none', 'cert: false', 'disable-telemetry: true', 'disable-update-check: true', ''].join('\n'),
    );
    return file;
  }

  baseArgs(port) {
    return ['--config', this.configFile(port), '--user-data-dir', this.userData, '--extensions-dir', this.extensions];
  }

  async installExtension(vsix) {
    const out = await run(this.tools.codeServer, [...this.baseArgs(0), '--install-extension', vsix], { env: this.env, prefix: '  | code-server: ' });
    if (!/was successfully installed|is already installed/i.test(out)) throw new Error(`installing ${vsix} printed no success:\n${out}`);
    const list = await run(this.tools.codeServer, [...this.baseArgs(0), '--list-extensions', '--show-versions'], { env: this.env, quiet: true });
    log(`extensions installed: ${list.trim().split('\n').join(', ')}`);
    return list.trim();
  }

  /** Starts the server on a free port and waits for /healthz; retries once on another port. */
  async start(workspace, extraArgs = []) {
    for (let attempt = 1; attempt <= 2; attempt++) {
      this.port = await freePort();
      this.logFile = join(this.runDir, `code-server-${this.name}-${attempt}.log`);
      const args = [...this.baseArgs(this.port), '--disable-workspace-trust', '--disable-getting-started-override', ...extraArgs, workspace];
      log(`starting code-server on 127.0.0.1:${this.port} (attempt ${attempt}; log ${this.logFile})`);
      const out = createWriteStream(this.logFile);
      const child = spawn(this.tools.codeServer, args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      track(child);
      child.stdout.pipe(out);
      child.stderr.pipe(out);
      let exited = null;
      child.on('exit', (code, signal) => {
        exited = code ?? signal;
      });
      this.child = child;
      try {
        await waitUntil(
          async () => {
            if (exited !== null) throw Object.assign(new Error(`code-server exited with ${exited}`), { fatal: true });
            const r = await fetch(`http://127.0.0.1:${this.port}/healthz`, { signal: AbortSignal.timeout(2000) });
            return r.ok;
          },
          { timeoutMs: 60000, interval: 250, what: `code-server's /healthz on port ${this.port}` },
        );
        log(`code-server is up (pid ${child.pid}, port ${this.port})`);
        return this.url;
      } catch (e) {
        log(`code-server did not come up: ${e.message}`);
        let tail = '';
        try {
          tail = readFileSync(this.logFile, 'utf8').split('\n').slice(-30).join('\n');
        } catch {
          // no log
        }
        log(`last lines of ${this.logFile}:\n${tail}`);
        await this.stop();
        if (attempt === 2) throw new Error(`code-server did not start twice; logs in ${this.runDir}`);
      }
    }
    throw new Error('unreachable');
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop() {
    if (!this.child) return;
    const c = this.child;
    this.child = null;
    await stopGroup(c);
    log(`code-server stopped (process group ${c.pid})`);
  }
}
