// The end-to-end harness's environment for the processes it starts
// (test/e2e/lib/env.mjs): nothing an outer `npm run` exported reaches an inner
// npm, and the Node meant for it comes first on PATH. Without this, a cold
// `npm run test:e2e` failed: the inner `npm install code-server` took the outer
// npm_config_user_agent ("node/v20") as its own, and code-server's postinstall
// refused to build.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { fromOuterNpm, innerEnv } from './lib/env.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'mmutrace-harness-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** What `npm run test:e2e` (npm 11 on Node 20) puts into the environment of the harness, besides the user's own. */
const OUTER_NPM = {
  npm_config_user_agent: 'npm/11.19.1 node/v20.0.1 linux x64 workspaces/false',
  npm_node_execpath: '/outer/bin/node',
  NODE: '/outer/bin/node',
  npm_execpath: '/outer/lib/node_modules/npm/bin/npm-cli.js',
  npm_config_node_gyp: '/outer/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  npm_config_global_prefix: '/outer',
  npm_config_prefix: '/outer',
  npm_config_npm_version: '11.19.1',
  npm_package_name: 'mmutrace',
  npm_package_version: '0.1.0',
  npm_lifecycle_event: 'test:e2e',
  npm_lifecycle_script: 'node test/e2e/run.mjs',
  npm_command: 'run-script',
  INIT_CWD: '/work/project',
};
const OUTER_PATH = ['/work/project/node_modules/.bin', '/work/node_modules/.bin', '/outer/lib/node_modules/npm/node_modules/@npmcli/run-script/lib/node-gyp-bin'];

describe('innerEnv', () => {
  test('drops every variable of the outer npm and NODE, keeps the rest, puts the given Node first on PATH', () => {
    const base = { ...OUTER_NPM, HOME: '/home/u', LANG: 'C.UTF-8', MMUTRACE_E2E_CACHE: '/c', PATH: [...OUTER_PATH, '/usr/local/bin', '/usr/bin'].join(delimiter) };
    const env = innerEnv({ nodeBin: '/cache/node-24.21.0/bin', base, extra: { npm_config_nodedir: '/cache/node-24.21.0' } });
    expect(env).toEqual({
      HOME: '/home/u',
      LANG: 'C.UTF-8',
      MMUTRACE_E2E_CACHE: '/c',
      PATH: ['/cache/node-24.21.0/bin', '/usr/local/bin', '/usr/bin'].join(delimiter),
      // The harness's own settings come after the cleaning.
      npm_config_nodedir: '/cache/node-24.21.0',
    });
  });

  test('the settings that only say how to reach the registry (a mirror, a proxy, a CA) are the user’s and stay', () => {
    for (const k of ['npm_config_registry', 'NPM_CONFIG_REGISTRY', 'npm_config_https_proxy', 'npm_config_https-proxy', 'npm_config_cafile', 'npm_config_strict_ssl']) expect([k, fromOuterNpm(k)]).toEqual([k, false]);
    for (const k of ['npm_config_user_agent', 'NPM_CONFIG_USER_AGENT', 'npm_config_nodedir', 'npm_config_node_gyp', 'npm_node_execpath', 'NODE', 'npm_package_json', 'npm_lifecycle_event']) expect([k, fromOuterNpm(k)]).toEqual([k, true]);
    for (const k of ['HOME', 'PATH', 'NODE_OPTIONS', 'NODE_PATH', 'XDG_CACHE_HOME']) expect([k, fromOuterNpm(k)]).toEqual([k, false]);
  });

  test('a `node` started with it is the one in nodeBin, not the first of the outer PATH', () => {
    const fake = join(tmp, 'node-24', 'bin');
    mkdirSync(fake, { recursive: true });
    writeFileSync(join(fake, 'node'), '#!/bin/sh\necho "the node of nodeBin $*"\n');
    chmodSync(join(fake, 'node'), 0o755);
    const base = { ...process.env, ...OUTER_NPM, PATH: [dirname(process.execPath), process.env.PATH].join(delimiter) };
    const r = spawnSync('node', ['--version'], { env: innerEnv({ nodeBin: fake, base }), encoding: 'utf8' });
    expect(r.stdout).toBe('the node of nodeBin --version\n');
  });

  test('an inner npm gives its scripts its own user agent (the Node it runs on), not the outer one', () => {
    const cwd = join(tmp, 'npm');
    mkdirSync(cwd, { recursive: true });
    writeFileSync(join(cwd, 'package.json'), '{"private":true}\n');
    const base = { ...process.env, ...OUTER_NPM };
    const agent = (env: NodeJS.ProcessEnv): string =>
      spawnSync('npm', ['exec', '--offline', '-c', 'printenv npm_config_user_agent'], { cwd, env, encoding: 'utf8' }).stdout.trim();
    // What a postinstall script saw before: the outer npm's Node.
    expect(agent(base)).toBe(OUTER_NPM.npm_config_user_agent);
    // With the harness's environment: the Node the inner npm runs on.
    expect(agent(innerEnv({ base }))).toMatch(new RegExp(`^npm/\\S+ node/${process.version.replace(/\./g, '\\.')} `));
  });
});
