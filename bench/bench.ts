// `npm run bench`: parse and replay speed on generated kbuild-like traces,
// each measured side by side with a raw line scan of the same text in the
// same process (these machines are noisy: ratios, not absolute times).

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Machine } from '../src/engine';
import { parseTrace } from '../src/trace';
import type { Mode } from '../src/trace/ast';
import { benchContinue, benchDebugger, cliReplayInProcess, cliReplayProcess, formatDebugBench } from './debug-bench';
import { reloadTrace, twoSpacesTrace } from './audit-traces';
import { generateTrace } from './gen';
import { benchLargeShadow, formatLargeShadow } from './large-shadow';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function now(): number {
  return performance.now();
}

/** The least a parser must do: look at every character and find the lines. */
function rawLineScan(text: string): number {
  let lines = 0;
  let sum = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) lines++;
    else sum = (sum + c) | 0;
  }
  return lines + (sum & 1);
}

/** Lines as strings, the way a simple line-oriented tool reads a file. */
function splitLineScan(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) n += line.length & 1;
  return n;
}

/** Best of `n` runs, in ms. */
function best(n: number, f: () => void): number {
  let b = Infinity;
  for (let i = 0; i < n; i++) {
    const t = now();
    f();
    b = Math.min(b, now() - t);
  }
  return b;
}

function memory(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  // Typed arrays' backing stores are counted in arrayBuffers (external includes them too).
  return m.heapUsed + m.arrayBuffers;
}

interface Row {
  name: string;
  mode: Mode;
  events: number;
  bytes: number;
  scanMs: number;
  splitMs: number;
  parseMs: number;
  replayMs: Record<string, number>;
  memRatio: number;
  exits: Record<string, { total: number; pf: number; fill: number; inject: number; emulate: number; cr3: number; npt: number; pages: number }>;
}

function benchOne(mode: Mode, events: number, spaces: number, dir: string): Row {
  const text = generateTrace({ mode, events, spaces, seed: 2007 });
  const file = join(dir, `kbuild-${mode}-${events}.mmutrace`);
  writeFileSync(file, text);
  const runs = 3;
  const scanMs = best(runs, () => rawLineScan(text));
  const splitMs = best(runs, () => splitLineScan(text));
  let parsed = parseTrace(text);
  if (parsed.hasErrors) throw new Error(`generated trace does not parse: ${parsed.diagnostics[0]!.line}: ${parsed.diagnostics[0]!.message}`);
  const parseMs = best(runs, () => {
    parsed = parseTrace(text);
  });
  const program = parsed.program;
  const replayMs: Record<string, number> = {};
  const exits: Row['exits'] = {};
  // The four designs side by side, interleaved run by run (the machine's load changes over a run).
  const policies = ['zap', 'update', 'access', 'tdp'];
  const last: Record<string, Machine> = {};
  for (const p of policies) replayMs[p] = Infinity;
  for (let k = 0; k < runs; k++) {
    for (const policy of policies) {
      const t0 = performance.now();
      const m = new Machine(program, { policy });
      m.run();
      replayMs[policy] = Math.min(replayMs[policy]!, performance.now() - t0);
      last[policy] = m;
    }
  }
  for (const policy of policies) {
    const m = last[policy]!;
    const e = m.mmu.exits;
    exits[policy] = { total: e.total, pf: e.pf, fill: e.fill, inject: e.inject, emulate: e.emulate, cr3: e.cr3, npt: e.npt, pages: m.shadow.stats.pagesCreated };
  }
  // Memory: what a loaded and replayed trace holds (the program and the
  // machine), measured with the text already dropped, as a debugger that
  // parsed the file and let go of its text would hold it.
  parsed = undefined as never;
  const before = memory();
  let held: { program?: ReturnType<typeof parseTrace>['program']; m?: Machine } = {};
  {
    let fresh: string | undefined = readFileSync(file, 'utf8');
    held.program = parseTrace(fresh).program;
    fresh = undefined;
  }
  held.m = new Machine(held.program, { policy: 'update' });
  held.m.run();
  const after = memory();
  const memRatio = (after - before) / Buffer.byteLength(text);
  held = {};
  return { name: file, mode, events: program.events.count, bytes: Buffer.byteLength(text), scanMs, splitMs, parseMs, replayMs, memRatio, exits };
}

async function main(): Promise<void> {
  const dir = join(tmpdir(), 'mmutrace-bench');
  mkdirSync(dir, { recursive: true });
  const events = Number(process.env.MMUTRACE_BENCH_EVENTS ?? 1_000_000);
  const rows = [benchOne('64', events, 300, dir), benchOne('32', Math.round(events / 4), 200, dir), benchOne('pae', Math.round(events / 4), 200, dir)];
  const f = (x: number, d = 1): string => x.toFixed(d);
  console.log('mmutrace bench (best of 3; replay without audit)\n');
  for (const r of rows) {
    const eps = (ms: number): string => `${f(r.events / ms / 1000, 2)} M rows/s`;
    const upd = r.replayMs.update!;
    console.log(`${r.name}: mode ${r.mode}, ${r.events} rows, ${f(r.bytes / 1e6)} MB`);
    console.log(`  raw line scan      ${f(r.scanMs)} ms  (${eps(r.scanMs)}: every character read, lines counted)`);
    console.log(`  split into lines   ${f(r.splitMs)} ms  (${eps(r.splitMs)}: text.split('\\n'))`);
    console.log(`  parse              ${f(r.parseMs)} ms  (${eps(r.parseMs)}; ${f((r.scanMs / r.parseMs) * 100)}% of the scan's speed)`);
    console.log(`  replay zap         ${f(r.replayMs.zap!)} ms  (${eps(r.replayMs.zap!)})`);
    console.log(`  replay update      ${f(upd)} ms  (${eps(upd)})`);
    console.log(`  replay access      ${f(r.replayMs.access!)} ms  (${eps(r.replayMs.access!)}; ${f(upd / r.replayMs.access!, 2)}x update's speed, target ≥ 0.8)`);
    console.log(`  replay tdp         ${f(r.replayMs.tdp!)} ms  (${eps(r.replayMs.tdp!)}; ${f(upd / r.replayMs.tdp!, 2)}x update's speed, target ≥ 0.8)`);
    console.log(`  parse + replay     ${f(r.parseMs + upd)} ms  (${f((r.scanMs / (r.parseMs + upd)) * 100)}% of the raw scan's speed, ${f((r.splitMs / (r.parseMs + upd)) * 100)}% of the split's)`);
    console.log(`  memory held        ${f(r.memRatio, 2)}x the file's size (program + machine after replay)`);
    const z = r.exits.zap!;
    const u = r.exits.update!;
    console.log(`  exits zap          total ${z.total}: pf ${z.pf} (fill ${z.fill}, inject ${z.inject}, emulate ${z.emulate}), cr3 ${z.cr3}`);
    console.log(`  exits update       total ${u.total}: pf ${u.pf} (fill ${u.fill}, inject ${u.inject}, emulate ${u.emulate}), cr3 ${u.cr3}`);
    const a = r.exits.access!;
    const t = r.exits.tdp!;
    console.log(`  exits access       total ${a.total}: pf ${a.pf} (fill ${a.fill}, inject ${a.inject}, emulate ${a.emulate}), cr3 ${a.cr3}`);
    console.log(`  exits tdp          total ${t.total}: npt ${t.npt}; nested pages ${t.pages} (shadow pages under update: ${u.pages})`);
    console.log(`  update removes     ${z.pf - u.pf} page-fault exits: ${f(((z.pf - u.pf) / z.pf) * 100)}% of zap's\n`);
  }
  // Issue 16: the audit on context-switch-heavy traces, `run` and `run --audit` side by side (best of 3, interleaved),
  // then the debugger's continue on them and on the kbuild-like trace against `mmutrace run --audit`, in fresh processes.
  const issue16: [string, string][] = [];
  for (const [name, text] of [['16,384 pages then 4,000 cr3 reloads', reloadTrace()], ['two 64 MB spaces, 200k events', twoSpacesTrace(200_000)], ['two 64 MB spaces, 1M events', twoSpacesTrace(events)]] as const) {
    const path = join(dir, `issue16-${issue16.length}.mmutrace`);
    writeFileSync(path, text);
    issue16.push([name, path]);
    const program = parseTrace(text).program;
    let plain = Infinity;
    let audit = Infinity;
    for (let k = 0; k < 3; k++) {
      let t0 = performance.now();
      new Machine(program, {}).run();
      plain = Math.min(plain, performance.now() - t0);
      t0 = performance.now();
      new Machine(program, { audit: true }).run();
      audit = Math.min(audit, performance.now() - t0);
    }
    console.log(`audit on ${name}: run ${f(plain, 0)} ms, run --audit ${f(audit, 0)} ms: ${f(audit / plain, 2)}x (target ≤ 2)`);
  }
  // Fresh processes, interleaved, 3 of each; medians. The kbuild-like 64-bit trace last.
  for (const [name, path] of [...issue16, ['kbuild-like 64-bit, 1M events', rows[0]!.name] as [string, string]]) {
    const cli: number[] = [];
    const cont: number[] = [];
    for (let k = 0; k < 3; k++) {
      const c = cliReplayProcess(path, true);
      if (c !== undefined) cli.push(c);
      cont.push(await benchContinue(path));
    }
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    const ok = cli.length > 0 && med(cont) / med(cli) <= 1.5;
    console.log(`debugger continue on ${name}: ${f(med(cont), 0)} ms against \`mmutrace run --audit\` ${cli.length ? f(med(cli), 0) : '?'} ms: ${cli.length ? f(med(cont) / med(cli), 2) : '?'}x (target ≤ 1.5: ${ok ? 'ok' : 'MISS'}; runs ${cont.map((x) => f(x, 0)).join('/')} against ${cli.map((x) => f(x, 0)).join('/')})`);
  }
  // The debugger, over DAP against dist/adapter.js, on the 64-bit trace; the CLI's replay measured now, in this run.
  const file = rows[0]!.name;
  // The reference is the CLI as a user runs it: `mmutrace run [--audit]` in a fresh process, as the
  // adapter is one (best of 2). The same work in this process, where the engine has been replaying
  // this trace for a while and is fully optimised by the JIT, is printed beside it.
  const best2 = (g: () => number | undefined): number | undefined => {
    const a = g();
    const b = g();
    return a === undefined || b === undefined ? undefined : Math.min(a, b);
  };
  const warmPlain = Math.min(cliReplayInProcess(file, false), cliReplayInProcess(file, false));
  const warmAudit = Math.min(cliReplayInProcess(file, true), cliReplayInProcess(file, true));
  const cliPlain = best2(() => cliReplayProcess(file, false)) ?? warmPlain;
  const cliAudit = best2(() => cliReplayProcess(file, true)) ?? warmAudit;
  console.log(`CLI on ${file}: \`mmutrace run\` ${f(cliPlain, 0)} ms, with --audit ${f(cliAudit, 0)} ms (fresh processes); in this process, warm: ${f(warmPlain, 0)} ms and ${f(warmAudit, 0)} ms`);
  const withAudit = await benchDebugger(file, cliAudit);
  console.log(formatDebugBench(withAudit));
  console.log(`  (continue is compared with \`mmutrace run --audit\`, the same work: the debugger audits by default;`);
  console.log(`   against plain \`run\` it is ${f(withAudit.continueToNearEndMs / cliPlain, 2)} ×; against the warm in-process replay with the audit ${f(withAudit.continueToNearEndMs / warmAudit, 2)} ×)`);
  const noAudit = await benchDebugger(file, cliPlain, { audit: false, memory: false });
  console.log(formatDebugBench(noAudit));
  console.log(`  (against the warm in-process replay without the audit: ${f(noAudit.continueToNearEndMs / warmPlain, 2)} ×)`);
  // The debugger on a large shadow (10,022 pages at the end), in-process.
  console.log(formatLargeShadow(benchLargeShadow()));
  // The debugger on 10M events (100M with --huge), issue 13: in a process of its own.
  spawnSync(process.execPath, [join(__dirname, 'debug-bench.js'), '--large', ...(process.argv.includes('--huge') ? ['--huge'] : [])], { stdio: 'inherit' });
  // Lackey conversion (mmutrace record / import lackey): in a process of its own, for its peak memory.
  spawnSync(process.execPath, ['--expose-gc', join(__dirname, 'bench-record.js')], { stdio: 'inherit' });
  // The extension's activation (bundle evaluation and activate()), in a process of its own.
  spawnSync(process.execPath, [join(__dirname, 'bench-activation.js')], { stdio: 'inherit' });
  // The command on traces of any size (issue 13): 1M and 10M events, 100M with --huge; in a process of its own.
  spawnSync(process.execPath, [join(__dirname, 'bench-stream.js'), ...(process.argv.includes('--huge') ? ['--huge'] : [])], { stdio: 'inherit' });
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
