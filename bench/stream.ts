// `npm run bench` (called by bench.ts) or `node dist/bench-stream.js [--huge]`:
// the command on traces of any size (issue 13). Kbuild-like traces of 1M and
// 10M events (and 100M with --huge) are written to a temporary folder (removed
// after): the 1M trace's events repeated after its setup. For each, side by
// side in fresh processes (medians): a raw scan of the file (read in 1 MiB
// chunks, every character looked at, lines counted), `mmutrace run` with the
// parse in a worker thread and in the command's own thread, their time per
// event against the 1M trace's (target ≤ 1.1), their ratio to the scan
// (target ≤ 4) and their peak resident memory (target < 300 MB), read from
// the child through a wrapper that prints process.resourceUsage().maxRSS.

import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTrace } from './gen';

const SCAN = `const fs=require('fs');const buf=Buffer.allocUnsafe(1<<20);const fd=fs.openSync(process.argv[1],'r');let lines=0,sum=0,n;
while((n=fs.readSync(fd,buf,0,buf.length,null))>0){const t=buf.latin1Slice(0,n);for(let i=0;i<t.length;i++){const c=t.charCodeAt(i);if(c===10)lines++;else sum=(sum+c)|0;}}
console.log(lines+(sum&1));`;

function bin(): string {
  // dist/bench-stream.js sits beside dist/cli.js; bin/mmutrace.js requires it.
  return join(__dirname, '..', 'bin', 'mmutrace.js');
}

const WRAP = (b: string): string =>
  `process.on('exit',()=>process.stderr.write('\\nmaxrss '+process.resourceUsage().maxRSS+'\\n'));process.argv.splice(1,0,'mmutrace');require(${JSON.stringify(b)})`;

interface Timed {
  ms: number;
  rssKb: number;
  ok: boolean;
}

function timeScan(file: string): Timed {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['-e', SCAN, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  return { ms: performance.now() - t0, rssKb: 0, ok: r.status === 0 };
}

function timeRun(file: string, worker: 'never' | 'always'): Timed {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['-e', WRAP(bin()), 'run', file], {
    encoding: 'utf8',
    env: { ...process.env, MMUTRACE_PARSE_WORKER: worker },
    maxBuffer: 64 << 20,
  });
  const ms = performance.now() - t0;
  const m = /maxrss (\d+)\n$/.exec(r.stderr ?? '');
  return { ms, rssKb: m ? Number(m[1]) : NaN, ok: r.status === 0 };
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Writes a trace of `millions` million events: the 1M trace's setup, then its events `millions` times. */
function writeTrace(file: string, setup: string, events: string, millions: number): void {
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, setup);
    const buf = Buffer.from(events);
    for (let i = 0; i < millions; i++) writeSync(fd, buf);
  } finally {
    closeSync(fd);
  }
}

export interface StreamBenchRow {
  events: number;
  bytes: number;
  scanMs: number;
  workerMs: number;
  threadMs: number;
  workerRssMb: number;
  threadRssMb: number;
}

export function benchStream(huge: boolean, log: (s: string) => void = console.log): StreamBenchRow[] {
  const dir = mkdtempSync(join(tmpdir(), 'mmutrace-stream-bench-'));
  const rows: StreamBenchRow[] = [];
  try {
    const text = generateTrace({ mode: '64', events: 1_000_000, spaces: 300, seed: 2007 });
    // The events start after the setup's blank line.
    const cut = text.indexOf('\n\n') + 2;
    const setup = text.slice(0, cut);
    const events = text.slice(cut).endsWith('\n') ? text.slice(cut) : text.slice(cut) + '\n';
    const sizes = huge ? [1, 10, 100] : [1, 10];
    log(`mmutrace run on large traces (fresh processes, medians; the machine has ${availableParallelism()} cores)`);
    for (const millions of sizes) {
      const file = join(dir, `kbuild-${millions}M.mmutrace`);
      writeTrace(file, setup, events, millions);
      const bytes = statSync(file).size;
      const runs = millions >= 100 ? 1 : 3;
      const scan: number[] = [];
      const wk: Timed[] = [];
      const th: Timed[] = [];
      for (let k = 0; k < runs; k++) {
        scan.push(timeScan(file).ms);
        wk.push(timeRun(file, 'always'));
        th.push(timeRun(file, 'never'));
      }
      if (!wk.every((t) => t.ok) || !th.every((t) => t.ok)) log(`  (a run of ${file} failed)`);
      const row: StreamBenchRow = {
        events: millions * 1_000_000,
        bytes,
        scanMs: median(scan),
        workerMs: median(wk.map((t) => t.ms)),
        threadMs: median(th.map((t) => t.ms)),
        workerRssMb: Math.max(...wk.map((t) => t.rssKb)) / 1024,
        threadRssMb: Math.max(...th.map((t) => t.rssKb)) / 1024,
      };
      rows.push(row);
      rmSync(file, { force: true });
      const base = rows[0]!;
      const per = (ms: number, r: StreamBenchRow): number => (ms / r.events) * 1e6;
      const f = (x: number, d = 2): string => x.toFixed(d);
      log(`${millions}M events, ${f(bytes / 1e6, 0)} MB:`);
      log(`  raw scan (fresh process)    ${f(row.scanMs, 0)} ms`);
      for (const [name, ms, rss, baseMs] of [
        ['run, parse in a worker', row.workerMs, row.workerRssMb, base.workerMs],
        ['run, one thread       ', row.threadMs, row.threadRssMb, base.threadMs],
      ] as const) {
        const perEvent = per(ms, row);
        const vs1M = perEvent / per(baseMs, base);
        const vsScan = ms / row.scanMs;
        log(
          `  ${name}  ${f(ms, 0)} ms = ${f(perEvent / 1000, 3)} µs/event (${f(vs1M)} × the 1M trace's, target ≤ 1.1${vs1M <= 1.1 ? '' : ': MISS'}); ${f(vsScan)} × the scan (target ≤ 4${vsScan <= 4 ? '' : ': MISS'}); peak ${f(rss, 0)} MB (target < 300${rss < 300 ? '' : ': MISS'})`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (require.main === module) benchStream(process.argv.includes('--huge'));
