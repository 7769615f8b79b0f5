// vitest globalSetup: the DAP tests drive the BUILT adapter over stdio, so
// build dist/adapter.js first (the same options as build.mjs).
import { build } from 'esbuild';
import { resolve } from 'node:path';

export default async function setup(): Promise<void> {
  const root = resolve(__dirname, '../..');
  await build({
    entryPoints: [resolve(root, 'src/debug/adapter.ts')],
    outfile: resolve(root, 'dist/adapter.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: true,
    logLevel: 'warning',
  });
}
