// `npm run bench` (its last part): the extension's activation cost, the
// bundle's evaluation and `activate()`, against a stand-in `vscode` (the one
// of test/extension/bundle.test.ts). Given another bundle
// (`node dist/bench-activation.js OTHER/extension.js`, e.g. main's), both are
// measured alternately in this process, side by side, medians of 21.

import { readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { makeContext, makeVscode } from '../test/extension/vscode-stub';

const BUILTINS = new Set(builtinModules);
const RUNS = 21;

function once(file: string, code: string): { evalMs: number; activateMs: number } {
  const { api } = makeVscode();
  const req = createRequire(file);
  const module = { exports: {} as { activate(ctx: unknown): void } };
  const t0 = performance.now();
  new Function('module', 'exports', 'require', '__filename', '__dirname', code)(
    module,
    module.exports,
    (id: string) => {
      if (id === 'vscode') return api;
      if (!BUILTINS.has(id.replace(/^node:/, ''))) throw new Error(`${file} requires ${id}`);
      return req(id);
    },
    file,
    dirname(file),
  );
  const t1 = performance.now();
  const ctx = makeContext();
  module.exports.activate(ctx);
  const t2 = performance.now();
  for (const s of ctx.subscriptions) s.dispose();
  return { evalMs: t1 - t0, activateMs: t2 - t1 };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

function main(): void {
  const files = [resolve(__dirname, 'extension.js'), ...process.argv.slice(2).map((f) => resolve(f))];
  const codes = files.map((f) => readFileSync(f, 'utf8'));
  const got = files.map(() => ({ evalMs: [] as number[], activateMs: [] as number[] }));
  for (let r = 0; r < RUNS; r++) {
    // Each round in the other order, so that neither bundle always runs on a warmer process.
    const order = files.map((_, i) => i);
    if (r % 2) order.reverse();
    for (const i of order) {
      const x = once(files[i]!, codes[i]!);
      got[i]!.evalMs.push(x.evalMs);
      got[i]!.activateMs.push(x.activateMs);
    }
  }
  console.log(`extension activation (medians of ${RUNS}, alternating):`);
  files.forEach((f, i) => {
    const e = median(got[i]!.evalMs);
    const a = median(got[i]!.activateMs);
    console.log(`  ${f}: ${codes[i]!.length} bytes; evaluation ${e.toFixed(1)} ms, activate() ${a.toFixed(1)} ms, together ${(e + a).toFixed(1)} ms`);
  });
  if (files.length > 1) {
    const t = (i: number): number => median(got[i]!.evalMs) + median(got[i]!.activateMs);
    console.log(`  ratio, first to second: ${(t(0) / t(1)).toFixed(2)} ×`);
  }
}

main();
