// The environment of every npm, node and code-server process the harness
// starts. `npm run test:e2e` exports its own identity into the environment
// (npm_config_user_agent names the outer Node, npm_node_execpath and NODE its
// binary, npm_config_node_gyp, npm_package_*, npm_lifecycle_*, and PATH entries
// for node_modules/.bin and npm's node-gyp-bin); an inner `npm install` takes
// the npm_config_* ones as its own configuration, so code-server's postinstall
// saw "node v20" and refused to build. Each inner process gets the harness's
// environment without any of that, and the Node it is meant to use first on
// PATH (Node 24 for code-server, the harness's own Node otherwise).

import { delimiter, dirname, sep } from 'node:path';

/**
 * npm settings about how to reach the registry (a mirror, a proxy, a CA): kept
 * when the user set them, since they say nothing about the outer npm or Node.
 */
const TRANSPORT = new Set(['registry', 'proxy', 'https_proxy', 'noproxy', 'no_proxy', 'cafile', 'ca', 'strict_ssl']);

/** Whether an environment variable comes from an outer npm (or names its Node) and must not reach an inner process. */
export function fromOuterNpm(name) {
  const n = name.toLowerCase();
  if (n === 'node' || n === 'init_cwd') return true;
  if (n.startsWith('npm_config_')) return !TRANSPORT.has(n.slice('npm_config_'.length).replace(/-/g, '_'));
  return n.startsWith('npm_');
}

/** A PATH entry that `npm run` puts first: a node_modules/.bin folder or npm's node-gyp-bin. */
function npmRunPathEntry(p) {
  return p.endsWith(`${sep}node_modules${sep}.bin`) || p.includes(`${sep}node-gyp-bin`);
}

/**
 * The environment for an inner process: `base` (the harness's environment)
 * without what an outer npm exported, `nodeBin` first on PATH (by default the
 * folder of the Node running the harness), then `extra`.
 */
export function innerEnv({ nodeBin = dirname(process.execPath), base = process.env, extra = {} } = {}) {
  const env = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !fromOuterNpm(k) && k !== 'PATH') env[k] = v;
  const rest = (base.PATH ?? '').split(delimiter).filter((p) => p && p !== nodeBin && !npmRunPathEntry(p));
  env.PATH = [nodeBin, ...rest].join(delimiter);
  return { ...env, ...extra };
}
