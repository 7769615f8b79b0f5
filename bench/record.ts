// The bench of `mmutrace import lackey` / `record` (run by `npm run bench`
// in a process of its own, or alone: `node --expose-gc dist/bench-record.js`):
// conversion speed in Lackey lines/s side by side with a raw scan of the same
// log in the same process, and peak memory while a generated log of 5M and
// 50M lines streams through the whole pipeline (nothing is written to disk).

import { Readable, Writable } from 'node:stream';
import { Converter } from '../src/record/convert';
import { convertLog } from '../src/record/pipeline';

/**
 * A program-like Lackey log: code over 1 MB, loads and stores in a bounded
 * 16 MB heap, a stack. Tuned to compress about as real recordings do (2.0:1
 * for `seq 3`, 2.8:1 for examples/recorded/pages.c): the bench prints its ratio.
 */
export function* lackeyChunks(lines: number, seed = 1): Generator<Buffer> {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
  let pc = 0x401000;
  let data = 0x4a00000;
  let sp = 0x1ffefff800;
  let n = 0;
  const parts: string[] = [];
  let size = 0;
  const push = (l: string): void => {
    parts.push(l);
    size += l.length;
    n++;
  };
  while (n < lines) {
    const r = rnd();
    push(`I  ${hex8(pc)},${1 + ((r * 7) | 0)}\n`);
    pc += 1 + ((r * 7) | 0);
    if (r < 0.02) pc = 0x401000 + ((rnd() * 256) | 0) * 4096 + ((rnd() * 4000) | 0); // a call or a jump: 1 MB of code
    const d = rnd();
    if (d < 0.22) {
      if (d < 0.01) data = 0x4a00000 + ((rnd() * 4096) | 0) * 4096; // another page of a 16 MB heap
      data += 8;
      push(` L ${hex8(data)},8\n`);
    } else if (d < 0.3) {
      push(` S ${hex8(data)},8\n`);
    } else if (d < 0.31) {
      push(` M ${hex8(data)},4\n`);
    } else if (d < 0.4) {
      sp += d < 0.35 ? -8 : 8;
      if (sp < 0x1ffefe0000 || sp > 0x1ffefff800) sp = 0x1ffefff800;
      push(` ${d < 0.35 ? 'S' : 'L'} ${sp.toString(16)},8\n`);
    }
    if (size >= 1 << 20) {
      yield Buffer.from(parts.join(''), 'latin1');
      parts.length = 0;
      size = 0;
    }
  }
  if (parts.length) yield Buffer.from(parts.join(''), 'latin1');
}

/** The least a line reader must do: look at every byte and find the lines. */
function rawScan(chunks: Buffer[]): number {
  let lines = 0;
  let sum = 0;
  for (const b of chunks) {
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      if (c === 10) lines++;
      else sum = (sum + c) | 0;
    }
  }
  return lines + (sum & 1);
}

/** Lines found with indexOf (memchr): the fastest way to find them. */
function indexOfScan(chunks: Buffer[]): number {
  let lines = 0;
  for (const b of chunks) for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) lines++;
  return lines;
}

let lastRatio = '';

function convertAll(chunks: Buffer[]): number {
  let chars = 0;
  const c = new Converter({ mode: '64', origin: ['bench'] }, (b) => (chars += b.length));
  c.start();
  for (const b of chunks) c.push(b);
  const s = c.finish();
  lastRatio = `${s.accesses} accesses -> ${s.firstEvents} access events, ${(s.accesses / s.firstEvents).toFixed(2)}:1`;
  return chars;
}

function best(n: number, f: () => unknown): number {
  let b = Infinity;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    f();
    b = Math.min(b, performance.now() - t);
  }
  return b;
}

async function peakMemory(lines: number): Promise<{ rssMb: number; heapMb: number; ms: number; events: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  let rss = 0;
  let heap = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed + m.arrayBuffers);
  };
  const timer = setInterval(sample, 50);
  const t = performance.now();
  const sink = new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });
  const stats = await convertLog(Readable.from(lackeyChunks(lines, 7)), sink, { mode: '64', origin: ['bench'] });
  clearInterval(timer);
  sample();
  return { rssMb: rss / 2 ** 20, heapMb: heap / 2 ** 20, ms: performance.now() - t, events: stats.events };
}

/** `memory: false` skips the streamed runs (`node dist/bench-record.js speed`). */
export async function benchRecord(memory = true): Promise<void> {
  const n = 5_000_000;
  const chunks = [...lackeyChunks(n)];
  const bytes = chunks.reduce((a, b) => a + b.length, 0);
  console.log(`\nLackey conversion (import lackey / record), a generated log of ${n / 1e6}M lines, ${(bytes / 2 ** 20).toFixed(0)} MB, in memory:`);
  // Interleaved, best of 3 each.
  let scan = Infinity;
  let memchr = Infinity;
  let conv = Infinity;
  for (let i = 0; i < 3; i++) {
    scan = Math.min(scan, best(1, () => rawScan(chunks)));
    memchr = Math.min(memchr, best(1, () => indexOfScan(chunks)));
    conv = Math.min(conv, best(1, () => convertAll(chunks)));
  }
  const rate = (ms: number): string => `${((n / ms) * 1000 / 1e6).toFixed(2)} M lines/s`;
  console.log(`  raw per-byte scan     ${scan.toFixed(0).padStart(6)} ms  ${rate(scan)}`);
  console.log(`  indexOf line scan     ${memchr.toFixed(0).padStart(6)} ms  ${rate(memchr)}`);
  console.log(`  conversion            ${conv.toFixed(0).padStart(6)} ms  ${rate(conv)}  = ${((scan / conv) * 100).toFixed(1)} % of the per-byte scan (target >= 25 %), ${((memchr / conv) * 100).toFixed(1)} % of indexOf`);
  console.log(`  (${lastRatio})`);
  chunks.length = 0;
  for (const lines of memory ? [5_000_000, 50_000_000] : []) {
    const m = await peakMemory(lines);
    console.log(
      `  streamed ${String(lines / 1e6).padStart(2)}M lines through the pipeline: peak RSS ${m.rssMb.toFixed(0)} MB, peak heap + buffers ${m.heapMb.toFixed(0)} MB (target < 200 MB), ${((lines / m.ms) * 1000 / 1e6).toFixed(2)} M lines/s with the generator, ${m.events} events`,
    );
  }
}

if (typeof require !== 'undefined' && require.main === module) {
  benchRecord(process.argv[2] !== 'speed').then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
