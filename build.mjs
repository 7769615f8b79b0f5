// Bundles every entry point into dist/ with esbuild. Run by `npm run build`
// and by npm's `prepare` step, so `npm install` leaves a working `npx mmutrace`.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const node = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning' };
const entries = [
  { in: 'src/cli/main.ts', out: 'dist/cli.js' },
  { in: 'src/debug/adapter.ts', out: 'dist/adapter.js' },
  { in: 'bench/bench.ts', out: 'dist/bench.js' },
];
await Promise.all(
  entries.filter((e) => existsSync(e.in)).map((e) => build({ ...node, entryPoints: [e.in], outfile: e.out })),
);
